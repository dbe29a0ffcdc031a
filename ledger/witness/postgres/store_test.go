package postgres_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/ledger/witness"
	"github.com/ledger-dev/ledger/ledger/witness/postgres"
	"github.com/ledger-dev/ledger/ledger/witness/witnesstest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestStore(t *testing.T) {
	witnesstest.RunStore(t, func(t *testing.T) witnesstest.Opener {
		dsn := pgtest.New(t)
		return func(t *testing.T) witness.Store {
			s, err := postgres.New(t.Context(), postgres.Config{URL: dsn})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// TestSharedDatabase runs updates from two Stores on one database, as two
// witness processes sharing it would: each one's cached view goes stale
// when the other writes, and the compare-and-swap must notice, so that no
// update is lost and f always sees the value it replaces.
func TestSharedDatabase(t *testing.T) {
	dsn := pgtest.New(t)
	var stores []*postgres.Store
	for range 2 {
		s, err := postgres.New(t.Context(), postgres.Config{URL: dsn})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	const origin, workers, rounds = "example.com/log", 4, 25
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for range rounds {
				err := stores[i%2].Update(t.Context(), origin, func(old []byte) ([]byte, error) {
					n := 0
					if old != nil {
						n, _ = strconv.Atoi(string(old))
					}
					return []byte(strconv.Itoa(n + 1)), nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, s := range stores {
		b, err := s.Get(t.Context(), origin)
		if err != nil || string(b) != strconv.Itoa(workers*rounds) {
			t.Fatalf("store %d reads %q, %v; want %d: an update was lost", i, b, err, workers*rounds)
		}
	}
}
