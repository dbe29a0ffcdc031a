package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations holds the schema, one numbered SQL file per change
// (NNNN_name.sql). A file, once released, never changes: a later change is a
// new file.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key held while migrating, so that
// instances starting at once take turns. It is the first 8 bytes of
// "ledgerMG" read as a big-endian integer: any fixed number would do, as
// long as nothing else in the database uses it.
const migrationLock = 0x6c65646765724d47

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".sql")
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s is not named NNNN_name.sql", f)
		}
		b, err := migrations.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// migrate applies the migrations the database lacks, all in one transaction
// under an advisory lock: an instance that starts while another migrates
// waits for it, then finds nothing left to do. A crash part way rolls the
// whole transaction back.
func migrate(ctx context.Context, pool *pgxpool.Pool) (applied []string, err error) {
	all, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("couldn't take the migration lock: %w", err)
		}
		// Checked first, because CREATE TABLE IF NOT EXISTS needs the right
		// to create tables even when the table exists, and a role that
		// only uses the log need not have it.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('log_schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
			return fmt.Errorf("couldn't look for log_schema_migrations: %w", err)
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE TABLE log_schema_migrations (
				version    integer     PRIMARY KEY,
				name       text        NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return fmt.Errorf("couldn't create log_schema_migrations: %w", err)
			}
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM log_schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("couldn't read the schema version: %w", err)
		}
		if last := all[len(all)-1].version; have > last {
			return fmt.Errorf("the database's schema is at version %d, newer than this binary's %d", have, last)
		}
		for _, m := range all {
			if m.version <= have {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("couldn't apply migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO log_schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("couldn't record migration %s: %w", m.name, err)
			}
			applied = append(applied, m.name)
		}
		return nil
	})
	return applied, err
}
