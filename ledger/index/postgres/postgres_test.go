package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/index/indextest"
	"github.com/ledger-dev/ledger/ledger/index/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(tb testing.TB, cfg postgres.Config) *postgres.Index {
	tb.Helper()
	p, err := postgres.Open(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

func exec(t *testing.T, p *postgres.Index, sql string) {
	t.Helper()
	if _, err := p.Pool().Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestContract(t *testing.T) {
	indextest.Run(t, func(t *testing.T) indextest.Opened {
		p := open(t, postgres.Config{DSN: pgtest.New(t)})
		return indextest.Opened{Backend: p, Exec: func(ctx context.Context, sql string, args ...any) error {
			_, err := p.Pool().Exec(ctx, sql, args...)
			return err
		}}
	}, 100_000)
}

// TestOpen checks the configuration and that an index on a shared pool
// leaves the pool open when it closes.
func TestOpen(t *testing.T) {
	dsn := pgtest.New(t)
	for _, cfg := range []postgres.Config{{}, {DSN: dsn, Pool: &pgxpool.Pool{}}} {
		if _, err := postgres.Open(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "exactly one of Config.DSN and Config.Pool") {
			t.Errorf("Open(%+v): %v", cfg, err)
		}
	}
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	p := open(t, postgres.Config{Pool: pool})
	p.Close()
	if err := pool.Ping(t.Context()); err != nil {
		t.Fatalf("the shared pool after the index closed: %v", err)
	}
}

// TestOpenOldSchema opens a database whose index tables were created by a
// version without numbered migrations: the rows stay, and the schema is
// migrated to the latest version.
func TestOpenOldSchema(t *testing.T) {
	dsn := pgtest.New(t)
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// What the versions before numbered migrations ran (step 1 is their
	// schema, byte for byte, and never changes), and a row.
	oldSchema, err := os.ReadFile("migrations/0001_index_tables.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), string(oldSchema)+`;
		INSERT INTO index_entries VALUES (0, decode(repeat('ab', 32), 'hex'), 'not an event', '', 0, '', '', '', '', '', '', '', '');
		UPDATE index_state SET size = 1`); err != nil {
		t.Fatal(err)
	}
	p := open(t, postgres.Config{DSN: dsn})
	rows, err := p.Query(t.Context(), index.Query{Below: 10, Order: index.ByIndex, Limit: 10})
	if err != nil || len(rows) != 1 || string(rows[0].Leaf) != "not an event" {
		t.Fatalf("the old rows: %+v, %v", rows, err)
	}
	if n, err := p.Size(t.Context()); err != nil || n != 1 {
		t.Fatalf("index size %d, %v; want 1", n, err)
	}
	var version int
	if err := pool.QueryRow(t.Context(), `SELECT max(version) FROM index_schema_migrations`).Scan(&version); err != nil || version != 3 {
		t.Fatalf("schema version %d, %v; want 3", version, err)
	}
}

// TestLeastPrivilege checks that once the index tables exist, a role that
// may only use them (and create nothing) can open, fill and reset the
// index.
func TestLeastPrivilege(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	owner := open(t, postgres.Config{DSN: dsn})
	role := fmt.Sprintf("ledger_index_%d", time.Now().UnixNano())
	exec(t, owner, `CREATE ROLE `+role+` LOGIN`)
	t.Cleanup(func() {
		exec(t, owner, `DROP OWNED BY `+role)
		exec(t, owner, `DROP ROLE `+role)
	})
	exec(t, owner, `REVOKE CREATE ON SCHEMA public FROM PUBLIC`)
	exec(t, owner, `GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON index_entries, index_state TO `+role)
	exec(t, owner, `GRANT SELECT ON index_schema_migrations TO `+role)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	s := open(t, postgres.Config{DSN: u.String()})
	if _, err := s.Pool().Exec(ctx, `CREATE TABLE not_allowed (x int)`); err == nil {
		t.Fatal("the role may create tables: the test proves nothing")
	}
	indextest.Fill(t, s, 300, 6)
	if err := s.Reset(ctx); err != nil {
		t.Fatalf("reset as %s: %v", role, err)
	}
	if size, err := s.Size(ctx); err != nil || size != 0 {
		t.Fatalf("size after reset: %d, %v", size, err)
	}
}

// BenchmarkQuery runs indextest.BenchmarkQuery on a 1M-event index in a
// fresh database (COPY, about half a minute), analyzed as autovacuum would
// have done.
func BenchmarkQuery(b *testing.B) {
	p := open(b, postgres.Config{DSN: pgtest.New(b)})
	indextest.FillBench(b, p)
	if _, err := p.Pool().Exec(b.Context(), `ANALYZE index_entries`); err != nil {
		b.Fatal(err)
	}
	indextest.BenchmarkQuery(b, p)
}

// sized opens an index in a fresh database and measures it: its tables
// with their indexes and TOAST, after a checkpoint.
func sized(b *testing.B) indextest.Sized {
	p := open(b, postgres.Config{DSN: pgtest.New(b)})
	return indextest.Sized{Store: p, Bytes: func(ctx context.Context) (int64, error) {
		var n int64
		err := p.Pool().QueryRow(ctx, `SELECT pg_total_relation_size('index_entries') + pg_total_relation_size('index_state')`).Scan(&n)
		return n, err
	}}
}

func BenchmarkFollow(b *testing.B) { indextest.BenchmarkFollow(b, sized) }

func BenchmarkFill(b *testing.B) {
	for _, n := range []int{100_000, indextest.BenchEvents} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { indextest.BenchmarkFill(b, sized, n) })
	}
}
