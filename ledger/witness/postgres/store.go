// Package postgres is a witness.Store in PostgreSQL: one row per log in the
// table witness_checkpoints, updated in a transaction that holds the row's
// lock from the read to the write.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures a Store.
type Config struct {
	// URL is the PostgreSQL connection string, a postgres:// URL or
	// key=value pairs. Required. The table witness_checkpoints is created
	// if it does not exist.
	URL string
	// MaxConns bounds the connection pool: at most this many updates of
	// different logs run at once. Default 16.
	MaxConns int32
}

// Store keeps the latest cosigned checkpoint of each log in PostgreSQL. An
// update is durable once its transaction commits, as far as the server's
// fsync and synchronous_commit settings make commits durable (both on by
// default).
type Store struct {
	pool *pgxpool.Pool
}

// schema creates the table. The advisory lock keeps two witnesses starting
// at once from racing on CREATE TABLE IF NOT EXISTS.
const schema = `
SELECT pg_advisory_xact_lock(7418249201);
CREATE TABLE IF NOT EXISTS witness_checkpoints (
	origin     text PRIMARY KEY,
	checkpoint bytea NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);`

// New connects to the database, creates the table if needed and returns
// the Store.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("postgres: Config.URL is required")
	}
	if cfg.MaxConns < 0 {
		return nil, fmt.Errorf("postgres: Config.MaxConns %d is negative", cfg.MaxConns)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 16
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse the PostgreSQL URL: %w", err)
	}
	pc.MaxConns = cfg.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err == nil {
		if err = pool.Ping(ctx); err != nil {
			pool.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't connect to PostgreSQL: %w", err)
	}
	if err := createTable(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("couldn't create the witness_checkpoints table: %w", err)
	}
	return &Store{pool: pool}, nil
}

// createTable creates witness_checkpoints unless it exists. It looks
// first, so that a role without the right to create tables can use a
// database where the table was made for it.
func createTable(ctx context.Context, pool *pgxpool.Pool) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('witness_checkpoints') IS NOT NULL`).Scan(&exists); err != nil || exists {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, schema)
		return err
	})
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Get returns the stored checkpoint of origin, or nil if none.
func (s *Store) Get(ctx context.Context, origin string) ([]byte, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT checkpoint FROM witness_checkpoints WHERE origin = $1`, origin).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the checkpoint of %q: %w", origin, err)
	}
	return nonNil(b), nil
}

// errLostRace: another update inserted the first row of an origin between
// our read (which found none, and so locked nothing) and our insert.
var errLostRace = errors.New("lost the race to insert the first checkpoint")

// refusedError carries f's error out of the transaction unchanged.
type refusedError struct{ err error }

func (e refusedError) Error() string { return e.err.Error() }
func (e refusedError) Unwrap() error { return e.err }

// Update reads origin's checkpoint with SELECT ... FOR UPDATE, so the row
// stays locked until the transaction that writes f's result commits: no
// other update of origin reads in between. An origin with no row yet has
// nothing to lock; two first updates race to INSERT, and the loser (ON
// CONFLICT DO NOTHING inserts no row) retries, reading the winner's row.
func (s *Store) Update(ctx context.Context, origin string, f func(old []byte) ([]byte, error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return update(ctx, tx, origin, f) })
		var refused refusedError
		switch {
		case errors.Is(err, errLostRace):
			continue
		case errors.As(err, &refused):
			return fmt.Errorf("update of %q refused: %w", origin, refused.err)
		case err != nil:
			return fmt.Errorf("couldn't update the checkpoint of %q: %w", origin, err)
		}
		// At this point the transaction has committed: the new value is
		// durable.
		return nil
	}
}

func update(ctx context.Context, tx pgx.Tx, origin string, f func(old []byte) ([]byte, error)) error {
	var old []byte
	err := tx.QueryRow(ctx, `SELECT checkpoint FROM witness_checkpoints WHERE origin = $1 FOR UPDATE`, origin).Scan(&old)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if found {
		old = nonNil(old)
	}
	b, err := f(old)
	if err != nil {
		return refusedError{err}
	}
	if found {
		_, err = tx.Exec(ctx, `UPDATE witness_checkpoints SET checkpoint = $2, updated_at = now() WHERE origin = $1`, origin, b)
		return err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO witness_checkpoints (origin, checkpoint) VALUES ($1, $2) ON CONFLICT (origin) DO NOTHING`, origin, b)
	if err == nil && tag.RowsAffected() == 0 {
		return errLostRace
	}
	return err
}

// nonNil maps an empty stored value to a non-nil slice: nil means "none".
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
