// Package postgres is the PostgreSQL backend of the query index, for
// ledgers whose log is in PostgreSQL: its tables (index_entries,
// index_state) live in the log's database, created by numbered migrations
// recorded in index_schema_migrations. `ledger serve --postgres URL` opens
// one connection pool for the log and the index.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledger-dev/ledger/internal/pgschema"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/index/internal/sqlindex"
)

// Config configures an Index. Exactly one of DSN and Pool is set.
type Config struct {
	// DSN is the connection string (postgres://... URL or keyword/value) of
	// the index's database. pgxpool settings such as pool_max_conns may be
	// given in it.
	DSN string
	// Pool is an open pool to the index's database, used instead of DSN:
	// the log's, when both live in one database. Close leaves it open.
	Pool *pgxpool.Pool
}

func (c *Config) validate() error {
	if (c.DSN == "") == (c.Pool == nil) {
		return errors.New("postgres: exactly one of Config.DSN and Config.Pool is required")
	}
	return nil
}

// Index is the PostgreSQL backend. It implements index.Store. Several
// ledger instances may fill one index at once; Append's size check
// serialises them.
type Index struct {
	pool  *pgxpool.Pool
	owned bool // the pool was opened from Config.DSN, and Close closes it
}

// migrations holds the index's numbered schema steps. Step 1 is
// idempotent: it adopts the tables that versions before numbered
// migrations created.
//
//go:embed migrations/*.sql
var migrations embed.FS

// indexSchema returns the index's schema migrations.
func indexSchema() (pgschema.Schema, error) {
	steps, err := pgschema.Files(migrations, "migrations")
	return pgschema.Schema{Component: "index", Steps: steps}, err
}

// Open connects to the database (or takes cfg.Pool) and applies the index's
// schema migrations that it lacks. Once they are applied, a role that may
// only use the tables (SELECT, INSERT, UPDATE, DELETE, TRUNCATE on
// index_entries and index_state, SELECT on index_schema_migrations), not
// create tables, can open the index.
func Open(ctx context.Context, cfg Config) (*Index, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Index{pool: cfg.Pool}
	if p.pool == nil {
		pool, err := pgxpool.New(ctx, cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("couldn't connect to the index database: %w", err)
		}
		p.pool, p.owned = pool, true
	}
	schema, err := indexSchema()
	if err == nil {
		_, err = schema.Migrate(ctx, p.pool)
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Close closes the connection pool, unless it came from Config.Pool.
func (p *Index) Close() error {
	if p.owned {
		p.pool.Close()
	}
	return nil
}

// Pool returns the connection pool, for tests that change rows behind the
// index's back.
func (p *Index) Pool() *pgxpool.Pool { return p.pool }

// Size returns how many entries are indexed.
func (p *Index) Size(ctx context.Context) (uint64, error) {
	return sqlindex.ReadSize(p.pool.QueryRow(ctx, sqlindex.SizeSQL))
}

// Append adds rows for entries from, from+1, ... if the size is from. The
// rows go in with COPY, in one transaction that holds the state row's lock.
func (p *Index) Append(ctx context.Context, from uint64, rows []index.Row) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		size, err := sqlindex.ReadSize(tx.QueryRow(ctx, sqlindex.SizeSQL+` FOR UPDATE`))
		if err != nil {
			return err
		}
		if err := sqlindex.CheckAppend(from, size, rows); err != nil {
			return err
		}
		src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return sqlindex.Values(&rows[i]), nil })
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"index_entries"}, sqlindex.Columns, src); err != nil {
			return fmt.Errorf("couldn't insert index rows: %w", err)
		}
		if _, err := tx.Exec(ctx, sqlindex.SetSizeSQL, int64(from)+int64(len(rows))); err != nil {
			return fmt.Errorf("couldn't update the index size: %w", err)
		}
		return nil
	})
}

// Reset deletes every row.
func (p *Index) Reset(ctx context.Context) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlindex.SizeSQL+` FOR UPDATE`); err != nil {
			return fmt.Errorf("couldn't lock the index state: %w", err)
		}
		for _, stmt := range []string{`TRUNCATE index_entries`, `UPDATE index_state SET size = 0 WHERE id = 1`} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("couldn't reset the index: %w", err)
			}
		}
		return nil
	})
}

// Prune deletes the rows below minimum (index.Store), in statements of
// sqlindex.PruneChunk rows.
func (p *Index) Prune(ctx context.Context, minimum uint64) error {
	err := sqlindex.PruneChunks(ctx, minimum, func(ctx context.Context) (int64, bool, error) {
		var lo *int64
		err := p.pool.QueryRow(ctx, sqlindex.FirstRowSQL).Scan(&lo)
		if lo == nil {
			return 0, false, err
		}
		return *lo, true, err
	}, func(ctx context.Context, stmt string, arg int64) error {
		_, err := p.pool.Exec(ctx, stmt, arg)
		return err
	})
	if err != nil {
		return fmt.Errorf("couldn't drop the index rows below %d: %w", minimum, err)
	}
	return nil
}

// Query returns the rows q selects.
func (p *Index) Query(ctx context.Context, q index.Query) ([]index.Row, error) {
	return sqlindex.Query(ctx, p.query, q)
}

// Failures returns the actors with at least q.Threshold failed or denied
// attempts, most first.
func (p *Index) Failures(ctx context.Context, q index.FailureQuery) ([]index.Failure, error) {
	return sqlindex.Failures(ctx, p.query, q)
}

// query is the sqlindex.QueryFunc over the pool.
func (p *Index) query(ctx context.Context, text string, args ...any) (sqlindex.Rows, error) {
	return p.pool.Query(ctx, text, args...)
}
