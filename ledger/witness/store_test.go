package witness_test

import (
	"testing"

	"github.com/ledger-dev/ledger/ledger/witness"
	"github.com/ledger-dev/ledger/ledger/witness/witnesstest"
)

func TestFileStore(t *testing.T) {
	witnesstest.RunStore(t, func(t *testing.T) witnesstest.Opener {
		dir := t.TempDir()
		return func(t *testing.T) witness.Store {
			s, err := witness.OpenFileStore(t.Context(), witness.FileStoreConfig{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}
