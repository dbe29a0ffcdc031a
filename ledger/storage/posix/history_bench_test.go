package posix_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

// BenchmarkCheckpointHistory publishes checkpoints as a ledger with three
// witnesses does and reports what the history keeps per checkpoint and per
// year at one checkpoint a second.
func BenchmarkCheckpointHistory(b *testing.B) {
	dir := b.TempDir()
	s, err := posix.Open(b.Context(), posix.Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sign := storagetest.WitnessedCheckpoints(b, "audit.example.com/prod", 3)
	size := uint64(1_000_000)
	b.ResetTimer()
	for range b.N {
		size += 1000
		if err := s.Publish(b.Context(), sign(size)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var bytes int64
	for _, name := range []string{".checkpoints", ".checkpoints.idx"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		bytes += fi.Size()
	}
	storagetest.ReportHistorySize(b, bytes)
}
