// Package postgres is the PostgreSQL subject key store (a
// subjectkey.Store), for ledgers whose log is in PostgreSQL: several
// instances sharing one database share their subjects' keys. Its tables,
// subject_keys (the keys that exist, wrapped) and subject_keys_erased (what
// is kept of a destroyed key: whose it was, not the key), are created by
// numbered migrations recorded in subjectkey_schema_migrations.
//
// A destroyed key's row is deleted, then the table is vacuumed, so that the
// dead tuple holding the wrapped key is removed: no query, snapshot, dump
// or replica reads it again. VACUUM does not zero the space it frees, so
// the wrapped bytes may linger in the table's file until the space is
// reused, and in the write-ahead log until it is recycled (and in backups);
// they are useless without the master key. VACUUM needs the role to own
// subject_keys.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledger-dev/ledger/internal/pgschema"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
)

// migrations holds the store's numbered schema steps.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Recheck is how long a Store hands out a key it read without asking the
// database whether the key still exists. A key destroyed by another
// instance may seal that instance's events for up to this long; those
// events' sealed members are then unreadable at once, as the erased
// subject's others are: nothing is shown that the erasure meant to hide.
const Recheck = time.Second

// Store is the PostgreSQL subject key store. Its methods are safe for
// concurrent use, and several processes may share one database.
type Store struct {
	// Resolution is what Newest is rounded up to (see subjectkey.Info);
	// set it before the first Key. Zero is subjectkey.DefaultResolution.
	Resolution time.Duration

	pool *pgxpool.Pool
	wrap subjectkey.Wrapper

	mu    sync.Mutex
	known map[string]cached // by tenant 0x00 subject
}

// cached is a key this Store read or made, and when it last knew the key
// to exist.
type cached struct {
	kid    string
	key    []byte
	newest time.Time
	seen   time.Time
}

// Open applies the store's schema migrations that the database lacks and
// returns the Store over pool, its keys wrapped by wrap. The pool stays the
// caller's to close.
func Open(ctx context.Context, pool *pgxpool.Pool, wrap subjectkey.Wrapper) (*Store, error) {
	steps, err := pgschema.Files(migrations, "migrations")
	if err == nil {
		_, err = pgschema.Schema{Component: "subjectkey", Steps: steps}.Migrate(ctx, pool)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't prepare the subject key tables: %w", err)
	}
	return &Store{pool: pool, wrap: wrap, known: map[string]cached{}}, nil
}

// Key implements subjectkey.Store. A key it read less than Recheck ago,
// whose Newest covers at, costs no query; otherwise one statement creates
// the key or moves its Newest, and commits before Key returns.
func (s *Store) Key(ctx context.Context, tenant, subject string, at time.Time) (string, []byte, error) {
	newest := subjectkey.NewestFor(at, s.Resolution)
	id := tenant + "\x00" + subject
	s.mu.Lock()
	c, ok := s.known[id]
	s.mu.Unlock()
	if ok && !c.newest.Before(newest) {
		if time.Since(c.seen) < Recheck {
			return c.kid, c.key, nil
		}
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM subject_keys WHERE kid = $1)`, c.kid).Scan(&exists); err != nil {
			return "", nil, fmt.Errorf("couldn't read the key of subject %q: %w", subject, err)
		}
		if exists {
			s.remember(id, c.kid, c.key, c.newest)
			return c.kid, c.key, nil
		}
	}
	kid, key, wrapped, err := subjectkey.Make(s.wrap, tenant, subject)
	if err != nil {
		return "", nil, err
	}
	var gotKID string
	var gotWrapped []byte
	var gotNewest time.Time
	err = s.pool.QueryRow(ctx, `INSERT INTO subject_keys (kid, tenant, subject, wrapped, newest) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant, subject) DO UPDATE SET newest = GREATEST(subject_keys.newest, EXCLUDED.newest)
		RETURNING kid, wrapped, newest`, kid, tenant, subject, wrapped, newest).Scan(&gotKID, &gotWrapped, &gotNewest)
	if err != nil {
		return "", nil, fmt.Errorf("couldn't get the key of subject %q: %w", subject, err)
	}
	if gotKID != kid {
		if ok && c.kid == gotKID {
			key = c.key
		} else if key, err = subjectkey.Unwrap(s.wrap, tenant, subject, gotKID, gotWrapped); err != nil {
			return "", nil, err
		}
	}
	s.remember(id, gotKID, key, gotNewest)
	return gotKID, key, nil
}

func (s *Store) remember(id, kid string, key []byte, newest time.Time) {
	s.mu.Lock()
	s.known[id] = cached{kid: kid, key: key, newest: newest, seen: time.Now()}
	s.mu.Unlock()
}

// Open implements subjectkey.Store. It always asks the database: a key
// another instance destroyed never opens here.
func (s *Store) Open(ctx context.Context, kid string) ([]byte, error) {
	var tenant, subject string
	var wrapped []byte
	err := s.pool.QueryRow(ctx, `SELECT tenant, subject, wrapped FROM subject_keys WHERE kid = $1`, kid).Scan(&tenant, &subject, &wrapped)
	if err == nil {
		return subjectkey.Unwrap(s.wrap, tenant, subject, kid, wrapped)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("couldn't read subject key %s: %w", kid, err)
	}
	var erased bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM subject_keys_erased WHERE kid = $1)`, kid).Scan(&erased); err != nil {
		return nil, fmt.Errorf("couldn't read subject key %s: %w", kid, err)
	}
	if erased {
		return nil, subjectkey.ErrErased
	}
	return nil, subjectkey.ErrUnknownKey
}

// Destroy implements subjectkey.Store: in one transaction the key's row is
// deleted and its erasure recorded; then subject_keys is vacuumed, so that
// the deleted row's bytes leave the table. Run again after a crash, it
// vacuums again.
func (s *Store) Destroy(ctx context.Context, tenant, subject string, why subjectkey.Why, idleBefore time.Time) (subjectkey.Erasure, error) {
	s.mu.Lock()
	delete(s.known, tenant+"\x00"+subject)
	s.mu.Unlock()
	var e subjectkey.Erasure
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var newest time.Time
		err := tx.QueryRow(ctx, `SELECT newest FROM subject_keys WHERE tenant = $1 AND subject = $2 FOR UPDATE`, tenant, subject).Scan(&newest)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// Already destroyed (a re-run after a crash), or never made.
			err := tx.QueryRow(ctx, `SELECT tenant, subject, kid, reason, requested_by, erased_at, pending FROM subject_keys_erased
				WHERE tenant = $1 AND subject = $2 ORDER BY erased_at DESC LIMIT 1`, tenant, subject).
				Scan(&e.Tenant, &e.Subject, &e.KID, &e.Why.Reason, &e.Why.By, &e.At, &e.Pending)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		case err != nil:
			return err
		case !idleBefore.IsZero() && !newest.Before(idleBefore):
			return nil
		}
		return tx.QueryRow(ctx, `WITH gone AS (DELETE FROM subject_keys WHERE tenant = $1 AND subject = $2 RETURNING kid, tenant, subject)
			INSERT INTO subject_keys_erased (kid, tenant, subject, reason, requested_by) SELECT kid, tenant, subject, $3, $4 FROM gone
			RETURNING tenant, subject, kid, reason, requested_by, erased_at, pending`, tenant, subject, why.Reason, why.By).
			Scan(&e.Tenant, &e.Subject, &e.KID, &e.Why.Reason, &e.Why.By, &e.At, &e.Pending)
	})
	if err != nil {
		return subjectkey.Erasure{}, fmt.Errorf("couldn't destroy the key of subject %q: %w", subject, err)
	}
	e.At = e.At.UTC()
	if e.KID == "" {
		return e, nil
	}
	if _, err := s.pool.Exec(ctx, `VACUUM subject_keys`); err != nil {
		return subjectkey.Erasure{}, fmt.Errorf("the key of subject %q is deleted, but vacuuming its table failed (run the erasure again): %w", subject, err)
	}
	return e, nil
}

// Logged implements subjectkey.Store.
func (s *Store) Logged(ctx context.Context, kid string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE subject_keys_erased SET pending = false WHERE kid = $1 AND pending`, kid); err != nil {
		return fmt.Errorf("couldn't mark the erasure of key %s logged: %w", kid, err)
	}
	return nil
}

// Pending implements subjectkey.Store. When an erasure is pending it also
// vacuums subject_keys: a crash may have come between the erasure's DELETE
// and its VACUUM.
func (s *Store) Pending(ctx context.Context) ([]subjectkey.Erasure, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant, subject, kid, reason, requested_by, erased_at FROM subject_keys_erased WHERE pending ORDER BY erased_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("couldn't list the pending erasures: %w", err)
	}
	pending, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (subjectkey.Erasure, error) {
		e := subjectkey.Erasure{Pending: true}
		err := r.Scan(&e.Tenant, &e.Subject, &e.KID, &e.Why.Reason, &e.Why.By, &e.At)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't list the pending erasures: %w", err)
	}
	if len(pending) > 0 {
		// An erasure cut short may have been cut before its VACUUM.
		if _, err := s.pool.Exec(ctx, `VACUUM subject_keys`); err != nil {
			return nil, fmt.Errorf("couldn't vacuum the destroyed subject keys: %w", err)
		}
	}
	return pending, nil
}

// Idle implements subjectkey.Store.
func (s *Store) Idle(ctx context.Context, before time.Time) ([]subjectkey.Info, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant, subject, kid, newest FROM subject_keys WHERE newest < $1 AND newest > $2 ORDER BY newest, kid`, before, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("couldn't list the idle subject keys: %w", err)
	}
	idle, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (subjectkey.Info, error) {
		var i subjectkey.Info
		err := r.Scan(&i.Tenant, &i.Subject, &i.KID, &i.Newest)
		i.Newest = i.Newest.UTC()
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't list the idle subject keys: %w", err)
	}
	return idle, nil
}
