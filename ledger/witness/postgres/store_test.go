package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
			s, err := postgres.Open(t.Context(), postgres.Config{DSN: dsn})
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
		s, err := postgres.Open(t.Context(), postgres.Config{DSN: dsn})
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

// TestRoleWithoutCreate checks that a witness whose role may only read,
// insert and update witness_checkpoints (and read its schema version) can
// use a database where the table was created for it.
func TestRoleWithoutCreate(t *testing.T) {
	dsn := pgtest.New(t)
	owner, err := postgres.Open(t.Context(), postgres.Config{DSN: dsn}) // creates the table
	if err != nil {
		t.Fatal(err)
	}
	owner.Close()
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	role := fmt.Sprintf("witness_%d", time.Now().UnixNano())
	for _, q := range []string{`CREATE ROLE ` + role + ` LOGIN`, `REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
		`GRANT SELECT, INSERT, UPDATE ON witness_checkpoints TO ` + role,
		`GRANT SELECT ON witness_schema_migrations TO ` + role} {
		if _, err := admin.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), `DROP OWNED BY `+role)
		admin.Exec(context.Background(), `DROP ROLE `+role)
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	s, err := postgres.Open(t.Context(), postgres.Config{DSN: u.String()})
	if err != nil {
		t.Fatalf("open as %s: %v", role, err)
	}
	defer s.Close()
	if err := s.Update(t.Context(), "example.com/log", func([]byte) ([]byte, error) { return []byte("v1"), nil }); err != nil {
		t.Fatalf("update as %s: %v", role, err)
	}
	if _, err := admin.Exec(t.Context(), `SET ROLE `+role+`; CREATE TABLE not_allowed (x int)`); err == nil {
		t.Fatal("the role may create tables: the test proves nothing")
	}
}

// TestOpenOldSchema opens a database whose witness_checkpoints was created
// by a version without numbered migrations: the checkpoints stay, and the
// schema is recorded at version 1.
func TestOpenOldSchema(t *testing.T) {
	dsn := pgtest.New(t)
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	// What the versions before numbered migrations ran.
	if _, err := admin.Exec(t.Context(), `
SELECT pg_advisory_xact_lock(7418249201);
CREATE TABLE IF NOT EXISTS witness_checkpoints (
	origin     text PRIMARY KEY,
	checkpoint bytea NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO witness_checkpoints (origin, checkpoint) VALUES ('example.com/log', 'v7')`); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(t.Context(), postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b, err := s.Get(t.Context(), "example.com/log"); err != nil || string(b) != "v7" {
		t.Fatalf("the old checkpoint reads %q, %v", b, err)
	}
	var version int
	if err := admin.QueryRow(t.Context(), `SELECT max(version) FROM witness_schema_migrations`).Scan(&version); err != nil || version != 1 {
		t.Fatalf("schema version %d, %v; want 1", version, err)
	}
}
