package posix_test

import (
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

// BenchmarkPrune1M prunes a log of 1,000,000 entries to its last partial
// bundle (3,906 bundles deleted) and reports the directory's bytes before
// and after. Run it with -benchtime=1x: each iteration fills a new log.
func BenchmarkPrune1M(b *testing.B) {
	var dir string
	storagetest.BenchPrune(b, 1_000_000, func(b *testing.B) ledger.Storage {
		dir = b.TempDir()
		s, err := posix.Open(b.Context(), posix.Config{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}, func(b *testing.B, _ ledger.Storage) int64 { return diskUse(b, dir) })
}

// diskUse returns the bytes the files under dir take on disk.
func diskUse(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
