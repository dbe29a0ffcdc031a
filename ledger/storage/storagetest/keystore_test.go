package storagetest_test

import (
	"testing"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

func TestMemoryKeys(t *testing.T) {
	storagetest.RunKeyStore(t, func(t *testing.T) storagetest.KeyStoreOpener {
		m := &storagetest.MemoryKeys{}
		return func(*testing.T) ledger.KeyStore { return m }
	}, 100_000)
}
