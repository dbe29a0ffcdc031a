package pgschema

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledger-dev/ledger/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testSchema has two steps, the first idempotent.
var testSchema = Schema{Component: "test", Steps: []Step{
	{Name: "0001_things", SQL: `CREATE TABLE IF NOT EXISTS things (id integer PRIMARY KEY)`},
	{Name: "0002_things_name", SQL: `ALTER TABLE things ADD COLUMN name text NOT NULL DEFAULT ''`},
}}

func connect(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// versions returns the rows of the version table.
func versions(t *testing.T, pool *pgxpool.Pool, s Schema) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT version, name FROM `+s.table()+` ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s", v, name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrate applies a schema step by step, as successive releases would.
func TestMigrate(t *testing.T) {
	ctx := t.Context()
	pool := connect(t, pgtest.New(t))
	first := Schema{Component: testSchema.Component, Steps: testSchema.Steps[:1]}
	if applied, err := first.Migrate(ctx, pool); err != nil || !slices.Equal(applied, []string{"0001_things"}) {
		t.Fatalf("first release: applied %v, %v", applied, err)
	}
	if applied, err := testSchema.Migrate(ctx, pool); err != nil || !slices.Equal(applied, []string{"0002_things_name"}) {
		t.Fatalf("second release: applied %v, %v", applied, err)
	}
	if applied, err := testSchema.Migrate(ctx, pool); err != nil || len(applied) != 0 {
		t.Fatalf("again: applied %v, %v", applied, err)
	}
	exec(t, pool, `INSERT INTO things (id, name) VALUES (1, 'x')`)
	if got := versions(t, pool, testSchema); !slices.Equal(got, []string{"1 0001_things", "2 0002_things_name"}) {
		t.Fatalf("versions %v", got)
	}
	if _, err := first.Migrate(ctx, pool); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("an older binary on the migrated database: %v, want a refusal", err)
	}
}

// TestMigrateAdoptsOldTables opens a database whose tables were created
// before the version table existed: the idempotent step 1 adopts them, and
// their rows stay.
func TestMigrateAdoptsOldTables(t *testing.T) {
	pool := connect(t, pgtest.New(t))
	exec(t, pool, `CREATE TABLE things (id integer PRIMARY KEY)`)
	exec(t, pool, `INSERT INTO things (id) VALUES (7)`)
	if _, err := testSchema.Migrate(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := pool.QueryRow(t.Context(), `SELECT name FROM things WHERE id = 7`).Scan(&name); err != nil {
		t.Fatalf("the old row after migrating: %v", err)
	}
}

// TestMigrateRace migrates a new database from several processes at once:
// the lock makes them take turns, so all succeed and each step is applied
// exactly once.
func TestMigrateRace(t *testing.T) {
	dsn := pgtest.New(t)
	const n = 4
	errs := make([]error, n)
	applied := make([][]string, n)
	var wg sync.WaitGroup
	for i := range n {
		pool := connect(t, dsn)
		wg.Go(func() { applied[i], errs[i] = testSchema.Migrate(t.Context(), pool) })
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate %d of %d racing: %v", i, n, err)
		}
		total += len(applied[i])
	}
	if total != len(testSchema.Steps) {
		t.Fatalf("the racing migrations applied %v, want each step once", applied)
	}
	if got := versions(t, connect(t, dsn), testSchema); len(got) != len(testSchema.Steps) {
		t.Fatalf("versions %v", got)
	}
}

// TestMigrateRoleWithoutCreate checks that once a database is migrated, a
// role that may read the version table but create nothing can "migrate" it.
func TestMigrateRoleWithoutCreate(t *testing.T) {
	dsn := pgtest.New(t)
	owner := connect(t, dsn)
	if _, err := testSchema.Migrate(t.Context(), owner); err != nil {
		t.Fatal(err)
	}
	role := fmt.Sprintf("pgschema_%d", time.Now().UnixNano())
	exec(t, owner, `CREATE ROLE `+role+` LOGIN`)
	t.Cleanup(func() {
		exec(t, owner, `DROP OWNED BY `+role)
		exec(t, owner, `DROP ROLE `+role)
	})
	exec(t, owner, `REVOKE CREATE ON SCHEMA public FROM PUBLIC`)
	exec(t, owner, `GRANT SELECT ON test_schema_migrations TO `+role)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	pool := connect(t, u.String())
	if _, err := testSchema.Migrate(t.Context(), pool); err != nil {
		t.Fatalf("as %s: %v", role, err)
	}
	if _, err := pool.Exec(t.Context(), `CREATE TABLE not_allowed (x int)`); err == nil {
		t.Fatal("the role may create tables: the test proves nothing")
	}
}

func TestFiles(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1")}
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		want  string // the step names, or a substring of the error
	}{
		{"numbered", fstest.MapFS{"m/0001_a.sql": sql, "m/0002_b.sql": sql, "m/README": sql}, "0001_a 0002_b"},
		{"gap", fstest.MapFS{"m/0001_a.sql": sql, "m/0003_c.sql": sql}, "m/0003_c.sql is not named 0002_name.sql"},
		{"unnumbered", fstest.MapFS{"m/first.sql": sql}, "is not named 0001_name.sql"},
		{"none", fstest.MapFS{}, "no migrations in m"},
	} {
		steps, err := Files(tc.files, "m")
		var got string
		if err != nil {
			got = err.Error()
		}
		for i, s := range steps {
			if i > 0 {
				got += " "
			}
			got += s.Name
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSchemaCheck(t *testing.T) {
	for _, s := range []Schema{{Component: "Log; DROP", Steps: testSchema.Steps}, {Component: "log"}} {
		if _, err := s.Migrate(t.Context(), nil); err == nil {
			t.Errorf("Migrate of %+v: no error", s)
		}
	}
}
