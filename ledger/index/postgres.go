package index

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the PostgreSQL backend, for ledgers whose log is in
// PostgreSQL: its tables (index_entries, index_state) live in the same
// database as the log's. It implements Store. Several ledger instances may
// fill one index at once; Append's size check serialises them.
type Postgres struct {
	pool *pgxpool.Pool
}

// OpenPostgres connects to the database at url (a PostgreSQL connection
// string) and creates the index tables if they do not exist.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("couldn't connect to the index database: %w", err)
	}
	p := &Postgres{pool: pool}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("couldn't create the index schema: %w", err)
	}
	return p, nil
}

func (p *Postgres) migrate(ctx context.Context) error {
	// Once the tables exist, a role that may only use them (SELECT, INSERT,
	// UPDATE, DELETE, TRUNCATE), not create tables, can open the index.
	var exists bool
	if err := p.pool.QueryRow(ctx, `SELECT to_regclass('index_entries') IS NOT NULL AND to_regclass('index_state') IS NOT NULL`).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		// Two instances starting at once would race on CREATE TABLE IF NOT
		// EXISTS; a transaction-scoped advisory lock makes them take turns.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ledger index schema'))`); err != nil {
			return err
		}
		for _, stmt := range append(tableDDL("BYTEA"), indexDDL...) {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close closes the connection pool.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// Pool returns the connection pool, for tests that change rows behind the
// index's back.
func (p *Postgres) Pool() *pgxpool.Pool { return p.pool }

// Size returns how many entries are indexed.
func (p *Postgres) Size(ctx context.Context) (uint64, error) {
	return readSize(p.pool.QueryRow(ctx, sizeSQL))
}

// Append adds rows for entries from, from+1, ... if the size is from. The
// rows go in with COPY, in one transaction that holds the state row's lock.
func (p *Postgres) Append(ctx context.Context, from uint64, rows []Row) error {
	if err := checkRows(from, rows); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		size, err := readSize(tx.QueryRow(ctx, sizeSQL+` FOR UPDATE`))
		if err != nil {
			return err
		}
		if size != from {
			return fmt.Errorf("%w: appending at %d, but the size is %d", ErrConflict, from, size)
		}
		src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return rows[i].values(), nil })
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"index_entries"}, copyColumns, src); err != nil {
			return fmt.Errorf("couldn't insert index rows: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE index_state SET size = $1 WHERE id = 1`, int64(from)+int64(len(rows))); err != nil {
			return fmt.Errorf("couldn't update the index size: %w", err)
		}
		return nil
	})
}

// copyColumns are rowColumns for CopyFrom.
var copyColumns = []string{"log_index", "leaf_hash", "leaf", "id", "ts", "tenant_id", "event_type", "action",
	"actor_id", "actor_type", "resource_type", "resource_id", "result"}

// Reset deletes every row.
func (p *Postgres) Reset(ctx context.Context) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sizeSQL+` FOR UPDATE`); err != nil {
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

// Query returns the rows q selects.
func (p *Postgres) Query(ctx context.Context, q Query) ([]Row, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	text, a := querySQL(q)
	return pgCollect(ctx, p.pool, text, a, scanRow)
}

// Failures returns the actors with at least q.Threshold failed or denied
// attempts, most first.
func (p *Postgres) Failures(ctx context.Context, q FailureQuery) ([]Failure, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	text, a := failuresSQL(q)
	return pgCollect(ctx, p.pool, text, a, scanFailure)
}

// pgCollect runs a query and scans every row.
func pgCollect[T any](ctx context.Context, pool *pgxpool.Pool, text string, a args, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := pool.Query(ctx, text, a...)
	if err != nil {
		return nil, fmt.Errorf("couldn't query the index: %w", err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("couldn't read an index row: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("couldn't read index rows: %w", err)
	}
	return out, nil
}
