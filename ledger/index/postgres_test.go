package index

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openPostgres(t *testing.T) backend { return openPostgresAt(t, pgtest.New(t)) }

func TestPostgres(t *testing.T) { runContract(t, openPostgres, 100_000) }

// TestPostgresLeastPrivilege checks that once the index tables exist, a role
// that may only use them (and create nothing) can open, fill and reset the
// index.
func TestPostgresLeastPrivilege(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	owner := openPostgresAt(t, dsn)
	role := fmt.Sprintf("ledger_index_%d", time.Now().UnixNano())
	sql := func(s string) {
		t.Helper()
		if _, err := owner.pool.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	sql(`CREATE ROLE ` + role + ` LOGIN`)
	t.Cleanup(func() {
		sql(`DROP OWNED BY ` + role)
		sql(`DROP ROLE ` + role)
	})
	sql(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`)
	sql(`GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON index_entries, index_state TO ` + role)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	s := openPostgresAt(t, u.String())
	if _, err := s.pool.Exec(ctx, `CREATE TABLE not_allowed (x int)`); err == nil {
		t.Fatal("the role may create tables: the test proves nothing")
	}
	d := genEvents(t, 300, 6)
	d.fill(t, s)
	if err := s.Reset(ctx); err != nil {
		t.Fatalf("reset as %s: %v", role, err)
	}
	if size, err := s.Size(ctx); err != nil || size != 0 {
		t.Fatalf("size after reset: %d, %v", size, err)
	}
}

func openPostgresAt(t *testing.T, dsn string) *Postgres {
	p, err := OpenPostgres(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
