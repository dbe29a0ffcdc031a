// Package postgres is a witness.Store in PostgreSQL: one row per log in the
// table witness_checkpoints, advanced by compare-and-swap
// (UPDATE ... WHERE checkpoint = <the value read>), so that several
// witness processes may share the database.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
	pool  *pgxpool.Pool
	batch *batcher

	mu      sync.Mutex
	origins map[string]*originState
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
	return &Store{pool: pool, batch: &batcher{pool: pool}, origins: map[string]*originState{}}, nil
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

// originState is what this Store last read or wrote for one origin.
type originState struct {
	mu    sync.Mutex // serialises this process's updates of the origin
	known bool       // value is what the row held when last read or written
	value []byte     // nil: no row
}

func (s *Store) origin(origin string) *originState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.origins[origin]
	if !ok {
		st = &originState{}
		s.origins[origin] = st
	}
	return st
}

// Update is a compare-and-swap: f is given the value this Store last read
// or wrote for origin, and its result is written with UPDATE ... WHERE
// checkpoint = <that value> (or, for an origin with no row, INSERT ... ON
// CONFLICT DO NOTHING), in a statement that commits before Update returns,
// so the write is durable. The swaps of concurrent updates of different
// origins share a statement (see batcher). If the row did not hold the
// value, another process sharing the database wrote in between: Update
// reads the row again and calls f again with it. In this process, updates
// of one origin are serialised, so the common case is one round trip.
func (s *Store) Update(ctx context.Context, origin string, f func(old []byte) ([]byte, error)) error {
	st := s.origin(origin)
	st.mu.Lock()
	defer st.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !st.known {
			v, err := s.Get(ctx, origin)
			if err != nil {
				return err
			}
			st.value, st.known = v, true
		}
		b, err := f(st.value)
		if err != nil {
			return fmt.Errorf("update of %q refused: %w", origin, err)
		}
		b = nonNil(b)
		swapped, err := s.swap(ctx, origin, st.value, b)
		if err != nil {
			// Whether it committed is unknown: read the row next time.
			st.known = false
			return fmt.Errorf("couldn't update the checkpoint of %q: %w", origin, err)
		}
		if swapped {
			// At this point the statement has committed: b is durable.
			st.value = b
			return nil
		}
		st.known = false // lost a race with another process: read again
	}
}

// swap replaces origin's value old (nil: no row) with b, if it is still
// old, and reports whether it did.
func (s *Store) swap(_ context.Context, origin string, old, b []byte) (bool, error) {
	sw := &swap{origin: origin, old: old, value: b}
	s.batch.do(sw)
	return sw.swapped, sw.err
}

// nonNil maps an empty stored value to a non-nil slice: nil means "none".
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
