package postgres

import (
	"testing"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

// BenchmarkPrune1M prunes a log of 1,000,000 entries to its last partial
// bundle through log_prune (3,906 bundle rows deleted in one transaction)
// and reports the tile and bundle tables' size before and after: the
// deleted rows' space is reused by later rows, and VACUUM FULL (measured
// last, untimed) returns it. Run it with -benchtime=1x: each iteration
// fills a new database.
func BenchmarkPrune1M(b *testing.B) {
	calls := 0
	storagetest.BenchPrune(b, 1_000_000, func(b *testing.B) ledger.Storage { return open(b, pgtest.New(b)) },
		func(b *testing.B, s ledger.Storage) int64 {
			size := func() int64 {
				var n int64
				if err := s.(*Storage).Pool().QueryRow(b.Context(), `SELECT pg_total_relation_size('log_bundles') + pg_total_relation_size('log_tiles')`).Scan(&n); err != nil {
					b.Fatal(err)
				}
				return n
			}
			n := size()
			if calls++; calls%2 == 0 { // after the prune
				if _, err := s.(*Storage).Pool().Exec(b.Context(), `VACUUM FULL log_bundles`); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(size())/(1<<20), "MiB-after-vacuum-full")
			}
			return n
		})
}
