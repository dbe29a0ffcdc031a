// Package pgschema creates and migrates the PostgreSQL schemas of the log,
// the query index and the witness, all the same way: a component's schema is
// an ordered list of numbered SQL steps, step i being version i, and the
// versions applied are recorded in the component's own table,
// <component>_schema_migrations (version, name, applied_at).
//
// Migrate applies the steps a database lacks in one transaction under an
// advisory lock, so that processes starting at once take turns (the second
// finds nothing left to do) and a crash part way rolls the whole migration
// back. A released step never changes: a later change is a new step. Step 1
// of a component whose tables predate the version table must be idempotent
// (CREATE ... IF NOT EXISTS), so that it adopts the tables the older code
// made.
//
// Once a database is migrated, a role that may not create tables can open
// it: Migrate then only reads the version table, with no lock and no writes.
package pgschema

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Lock is the advisory lock key held while migrating, by every component:
// the first 8 bytes of "ledgerMG" read as a big-endian integer. Any fixed
// number would do, as long as nothing else in the database uses it.
const Lock = 0x6c65646765724d47

// Step is one numbered schema change.
type Step struct {
	// Name names the step in the version table, e.g. "0001_log_tables".
	Name string
	// SQL is the statements of the step, run in the migration's transaction.
	SQL string
}

// Schema is the schema of one component.
type Schema struct {
	// Component names the component, in lower case: "log", "index",
	// "witness". Its versions are recorded in <Component>_schema_migrations.
	Component string
	// Steps are the schema's steps, in order: Steps[i] is version i+1.
	Steps []Step
}

// component is what Schema.Component may be: it is spliced into SQL.
var component = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func (s Schema) table() string { return s.Component + "_schema_migrations" }

func (s Schema) check() error {
	if !component.MatchString(s.Component) {
		return fmt.Errorf("pgschema: component %q is not a lower-case SQL name", s.Component)
	}
	if len(s.Steps) == 0 {
		return fmt.Errorf("pgschema: the %s schema has no steps", s.Component)
	}
	return nil
}

// Migrate applies the steps the database lacks and returns the names of
// those it applied. It refuses a database whose schema is at a version
// newer than the last step: a binary must not run on a schema it does not
// know.
func (s Schema) Migrate(ctx context.Context, pool *pgxpool.Pool) (applied []string, err error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	// The common case, a migrated database, needs only the right to read
	// the version table.
	have, err := s.version(ctx, pool)
	if err != nil {
		return nil, err
	}
	if have == len(s.Steps) {
		return nil, nil
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(Lock)); err != nil {
			return fmt.Errorf("couldn't take the migration lock: %w", err)
		}
		// Read again under the lock: another process may have migrated.
		have, err := s.version(ctx, tx)
		if err != nil {
			return err
		}
		if have < 0 {
			if _, err := tx.Exec(ctx, `CREATE TABLE `+s.table()+` (
				version    integer     PRIMARY KEY,
				name       text        NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return fmt.Errorf("couldn't create %s: %w", s.table(), err)
			}
		}
		for v := max(have, 0) + 1; v <= len(s.Steps); v++ {
			step := s.Steps[v-1]
			if _, err := tx.Exec(ctx, step.SQL); err != nil {
				return fmt.Errorf("couldn't apply migration %s: %w", step.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.table()+` (version, name) VALUES ($1, $2)`, v, step.Name); err != nil {
				return fmt.Errorf("couldn't record migration %s: %w", step.Name, err)
			}
			applied = append(applied, step.Name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't migrate the %s schema: %w", s.Component, err)
	}
	return applied, nil
}

// querier is what a pool and a transaction both offer.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// version returns the schema's version in the database: -1 if it has no
// version table, 0 if the table is empty.
func (s Schema) version(ctx context.Context, q querier) (int, error) {
	// Looked up first, because CREATE TABLE IF NOT EXISTS needs the right
	// to create tables even when the table exists. The lookup reads
	// pg_class, not to_regclass: the latter goes through the session's
	// catalog cache, which may still hold "no such table" from before the
	// lock was granted.
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_class
		WHERE relname = $1 AND relnamespace = current_schema()::regnamespace)`, s.table()).Scan(&exists); err != nil {
		return 0, fmt.Errorf("couldn't look for %s: %w", s.table(), err)
	}
	if !exists {
		return -1, nil
	}
	var have int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s.table()).Scan(&have); err != nil {
		return 0, fmt.Errorf("couldn't read the %s schema version: %w", s.Component, err)
	}
	if have > len(s.Steps) {
		return 0, fmt.Errorf("the database's %s schema is at version %d, newer than this binary's %d", s.Component, have, len(s.Steps))
	}
	return have, nil
}

// Files returns the steps in the files of dir in fsys named NNNN_name.sql
// (the step's name is the file's, without .sql), which must be numbered 1,
// 2, 3, ... with no gaps.
func Files(fsys fs.FS, dir string) ([]Step, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("couldn't list the migrations in %s: %w", dir, err)
	}
	var steps []Step
	for i, f := range files { // fs.Glob sorts, and the numbers have a fixed width
		name := strings.TrimSuffix(path.Base(f), ".sql")
		num, _, ok := strings.Cut(name, "_")
		if v, err := strconv.Atoi(num); !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s is not named %04d_name.sql", f, i+1)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("couldn't read migration %s: %w", f, err)
		}
		steps = append(steps, Step{Name: name, SQL: string(b)})
	}
	if len(steps) == 0 {
		return nil, errors.New("pgschema: no migrations in " + dir)
	}
	return steps, nil
}
