package postgres_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
	"github.com/ledger-dev/ledger/ledger/subjectkey/postgres"
	"github.com/ledger-dev/ledger/ledger/subjectkey/subjectkeytest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestStore runs the store contract over a real PostgreSQL database, each
// Store with its own pool as another instance would have.
func TestStore(t *testing.T) {
	subjectkeytest.Run(t, func(t *testing.T) subjectkeytest.Opener {
		dsn := pgtest.New(t)
		return func(t *testing.T, wrap subjectkey.Wrapper, resolution time.Duration) subjectkey.Store {
			return open(t, dsn, wrap, resolution)
		}
	})
}

func open(t *testing.T, dsn string, wrap subjectkey.Wrapper, resolution time.Duration) *postgres.Store {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := postgres.Open(t.Context(), pool, wrap)
	if err != nil {
		t.Fatal(err)
	}
	s.Resolution = resolution
	return s
}

// BenchmarkStore measures the PostgreSQL store's operations
// (docs/benchmarks.md).
func BenchmarkStore(b *testing.B) {
	subjectkeytest.Bench(b, func(b *testing.B) subjectkey.Store {
		pool, err := pgxpool.New(b.Context(), pgtest.New(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		s, err := postgres.Open(b.Context(), pool, subjectkeytest.MasterKey(b, 1))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
