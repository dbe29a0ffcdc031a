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

	"github.com/ledger-dev/ledger/internal/pgschema"
)

// Config configures a Store.
type Config struct {
	// DSN is the connection string of the witness's database, a
	// postgres:// URL or keyword/value pairs. Required.
	DSN string
	// MaxConns bounds the connection pool: at most this many updates of
	// different logs run at once. Default 16.
	MaxConns int32
}

func (c *Config) validate() error {
	if c.DSN == "" {
		return errors.New("postgres: Config.DSN is required")
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("postgres: Config.MaxConns %d is negative", c.MaxConns)
	}
	if c.MaxConns == 0 {
		c.MaxConns = 16
	}
	return nil
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

// schema is the witness's schema, recorded in witness_schema_migrations.
// Step 1 is idempotent: it adopts the table that versions before numbered
// migrations created.
var schema = pgschema.Schema{Component: "witness", Steps: []pgschema.Step{{Name: "0001_witness_checkpoints", SQL: `
CREATE TABLE IF NOT EXISTS witness_checkpoints (
	origin     text PRIMARY KEY,
	checkpoint bytea NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
)`}}}

// Open connects to the database, applies the schema migrations it lacks
// and returns the Store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse the PostgreSQL DSN: %w", err)
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
	if _, err := schema.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, batch: &batcher{pool: pool}, origins: map[string]*originState{}}, nil
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
