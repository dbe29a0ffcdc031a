package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// The Storage keeps the idempotency-key index itself, in log_keys: it
// implements ledger.KeyStore, Commit inserts Flush.Keys in the flush's
// transaction, and its watermark is the committed size.

// ErrStoreNotCalled is what Store returns: the ledger never calls it for a
// Storage that keeps its keys in Commit.
var ErrStoreNotCalled = errors.New("postgres: the key index is written by Commit, in the flush's transaction; Store is never called")

// ErrKeyLogged is returned by Commit when a key of the flush is already in
// the log: the ledger tried to log a key twice. Nothing was committed.
var ErrKeyLogged = errors.New("postgres: the flush logs an idempotency key the log already holds")

// Watermark returns the committed size: the keys of every committed entry
// are in log_keys, since Commit writes them with the entries. Open fills in
// those of a log that predates log_keys before it returns, and until it has,
// the watermark is how far it got.
func (s *Storage) Watermark(ctx context.Context) (uint64, error) {
	var size, done, upto int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce((SELECT size FROM log_state), 0), size, upto FROM log_keys_backfill`).
		Scan(&size, &done, &upto)
	if err != nil {
		return 0, fmt.Errorf("couldn't read the key index's watermark: %w", err)
	}
	if done < upto {
		return uint64(done), nil
	}
	return uint64(size), nil
}

// Lookup returns the records of those of keys that the log holds.
func (s *Storage) Lookup(ctx context.Context, keys []string) ([]ledger.KeyRecord, error) {
	bkeys := make([][]byte, len(keys))
	for i, k := range keys {
		bkeys[i] = []byte(k)
	}
	rows, err := s.pool.Query(ctx, `SELECT key, idx, hash FROM log_keys WHERE key = ANY($1::bytea[])`, bkeys)
	if err != nil {
		return nil, fmt.Errorf("couldn't look up %d keys: %w", len(keys), err)
	}
	var out []ledger.KeyRecord
	var key, hash []byte
	var idx int64
	_, err = pgx.ForEachRow(rows, []any{&key, &idx, &hash}, func() error {
		if idx < 0 || len(hash) != tiles.HashSize { // the CHECKs forbid both
			return fmt.Errorf("the row of key %q is corrupt: index %d, %d-byte hash", key, idx, len(hash))
		}
		out = append(out, ledger.KeyRecord{Key: string(key), Index: uint64(idx), Hash: tiles.Hash(hash)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't look up %d keys: %w", len(keys), err)
	}
	return out, nil
}

// Store returns ErrStoreNotCalled: Commit writes the keys.
func (s *Storage) Store(context.Context, uint64, uint64, []ledger.KeyRecord) error {
	return ErrStoreNotCalled
}

// keyRows are key records as columns, for unnest.
type keyRows struct {
	keys, hashes [][]byte
	idxs         []int64
}

func keyRowsOf(recs []ledger.KeyRecord) (keyRows, error) {
	r := keyRows{keys: make([][]byte, len(recs)), hashes: make([][]byte, len(recs)), idxs: make([]int64, len(recs))}
	for i, rec := range recs {
		idx, err := toInt64(rec.Index)
		if err != nil {
			return r, err
		}
		if rec.Key == "" {
			return r, fmt.Errorf("the record of entry %d has no key", rec.Index)
		}
		r.keys[i], r.idxs[i], r.hashes[i] = []byte(rec.Key), idx, rec.Hash[:]
	}
	return r, nil
}

// insertKeys adds key rows; a key already there violates the primary key.
// backfillKeys skips those (a log written before log_keys is taken as it
// is: its first entry with a key keeps it).
const (
	insertKeys   = `INSERT INTO log_keys (key, idx, hash) SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bytea[])`
	backfillKeys = insertKeys + ` ON CONFLICT (key) DO NOTHING`
)

// keysErr maps a unique violation of log_keys to ErrKeyLogged.
func keysErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == "log_keys" {
		return fmt.Errorf("%w (%s)", ErrKeyLogged, pgErr.Detail)
	}
	return fmt.Errorf("couldn't insert the flush's keys: %w", err)
}
