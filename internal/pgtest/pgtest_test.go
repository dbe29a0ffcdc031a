package pgtest

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { Main(m) }

// TestNew checks that each test gets its own empty database on a real
// server, and that the database is gone once the test ends.
func TestNew(t *testing.T) {
	ctx := t.Context()
	var first string
	t.Run("first", func(t *testing.T) {
		first = New(t)
		conn := connect(t, first)
		if _, err := conn.Exec(ctx, `CREATE TABLE marker (x int); INSERT INTO marker VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM marker`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("marker table: %d rows, %v", n, err)
		}
	})
	second := New(t)
	if second == first {
		t.Fatalf("two tests got the same database %s", first)
	}
	conn := connect(t, second)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("a new database holds %d tables", tables)
	}
	// The first subtest's cleanup dropped its database.
	_, err := pgx.Connect(ctx, first)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		t.Fatalf("connecting to the first test's database after it ended: %v, want database does not exist", err)
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestDatabaseName(t *testing.T) {
	a, b := databaseName("TestX/sub test#1"), databaseName("TestX/sub test#1")
	if a == b {
		t.Fatalf("two names for one test are equal: %s", a)
	}
	if len(a) > 63 {
		t.Fatalf("%s is longer than PostgreSQL's 63-byte identifiers", a)
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			t.Fatalf("%s holds %q", a, r)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable",
		"postgresql://127.0.0.1/",
		"host=/tmp dbname=postgres user=u",
		"host=/tmp",
	} {
		got, err := withDatabase(dsn, "t_x")
		if err != nil {
			t.Fatalf("withDatabase(%q): %v", dsn, err)
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil {
			t.Fatalf("withDatabase(%q) = %q: %v", dsn, got, err)
		}
		if cfg.Database != "t_x" {
			t.Errorf("withDatabase(%q) = %q, which names database %q, want t_x", dsn, got, cfg.Database)
		}
	}
}

// TestClusterRestart stops a test's own cluster in each shutdown mode and
// starts it again: it comes back on the same DSN with the committed rows.
func TestClusterRestart(t *testing.T) {
	c := NewCluster(t)
	ctx := t.Context()
	if err := adminExec(ctx, c.DSN(), `CREATE TABLE marker (x int); INSERT INTO marker VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Shutdown{Fast, Immediate} {
		if err := c.Stop(mode); err != nil {
			t.Fatalf("stop %s: %v", mode, err)
		}
		if err := adminExec(ctx, c.DSN(), `SELECT 1`); err == nil {
			t.Fatalf("the server answers after a %s shutdown", mode)
		}
		if err := c.Start(); err != nil {
			t.Fatalf("start after %s: %v", mode, err)
		}
		conn := connect(t, c.DSN())
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM marker`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("after a %s restart the marker table has %d rows: %v", mode, n, err)
		}
	}
}
