package postgres_test

import (
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
