// Package keyindex is the embedded persistent idempotency-key index of the
// posix log: a ledger.KeyStore in one SQLite database file (pure Go,
// modernc.org/sqlite, no cgo). `ledger serve --data DIR` keeps it in
// DIR/keys.sqlite, beside the log it projects.
//
// Schema:
//
//	keys       (key BLOB PRIMARY KEY, idx, hash) WITHOUT ROWID
//	watermark  (id = 1, size)                     one row
//
// The key is the primary key of a table without rowid, so the table is one
// B-tree ordered by key: a lookup is one descent, and the primary key is the
// unique constraint that refuses a key stored twice.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so the
// write-ahead log is synced before a Store's transaction commits: when Store
// returns, its records and watermark survive a crash of the process or of
// the machine. (synchronous=NORMAL in WAL mode would survive a process crash
// only: the last transactions could be lost on power loss.)
//
// Verify and Rebuild check and recreate a key index from the log's entry
// bundles: it is a projection of the log.
package keyindex

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ledger-dev/ledger/internal/durable"
	"github.com/ledger-dev/ledger/internal/sqlitetx"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// FileName is the key index's file in a ledger's data directory.
const FileName = "keys.sqlite"

// Config configures a Store.
type Config struct {
	// Path is the database file, created with its tables if it does not
	// exist. Required.
	Path string
}

// Store is the SQLite key index. It implements ledger.KeyStore and is safe
// for concurrent use; several processes may open one file (a `ledger index
// verify` beside a running server), writers taking turns.
type Store struct {
	db   *sql.DB
	path string
	// lookups[i] selects the keys IN a list of lookupSizes[i] parameters,
	// prepared once: preparing costs more than running a small lookup.
	lookups []*sql.Stmt
}

// ErrWatermark is returned by Store when the stored watermark is not the
// from it was given: nothing was stored.
var ErrWatermark = errors.New("the key index's watermark is not where the store starts")

// ErrKeyExists is returned by Store when a record's key is already stored
// (or is twice in the batch): nothing was stored.
var ErrKeyExists = errors.New("idempotency key already stored")

var schema = []string{
	`CREATE TABLE IF NOT EXISTS keys (
		key  BLOB    PRIMARY KEY,
		idx  INTEGER NOT NULL CHECK (idx >= 0),
		hash BLOB    NOT NULL CHECK (length(hash) = 32)
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS watermark (
		id   INTEGER PRIMARY KEY CHECK (id = 1),
		size INTEGER NOT NULL CHECK (size >= 0)
	)`,
	`INSERT OR IGNORE INTO watermark (id, size) VALUES (1, 0)`,
}

// Open opens (creating if needed) the key index at cfg.Path.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("keyindex: Config.Path is required")
	}
	// Transactions start IMMEDIATE so that Store's read of the watermark
	// and its writes are one atomic step across processes.
	q := url.Values{"_txlock": {"immediate"}, "_pragma": {"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "cache_size(-16384)"}}
	// The file holds the events' ids: mode 0600, like the index.
	if err := durable.CreatePrivate(cfg.Path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+cfg.Path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("couldn't open key index %s: %w", cfg.Path, err)
	}
	s := &Store{db: db, path: cfg.Path}
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, stmt := range schema {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("couldn't create the key index schema in %s: %w", cfg.Path, err)
	}
	for _, n := range lookupSizes {
		stmt, err := db.PrepareContext(ctx, "SELECT key, idx, hash FROM keys WHERE key IN ("+strings.Repeat(",?", n)[1:]+")")
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("couldn't prepare the key lookups of %s: %w", cfg.Path, err)
		}
		s.lookups = append(s.lookups, stmt)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	for _, stmt := range s.lookups {
		stmt.Close()
	}
	return s.db.Close()
}

// DB returns the database handle, for tests that change rows behind the
// index's back.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	return sqlitetx.Do(ctx, s.db, f)
}

// Watermark returns the size below which every keyed entry's record is
// stored.
func (s *Store) Watermark(ctx context.Context) (uint64, error) {
	return readWatermark(ctx, s.db)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readWatermark(ctx context.Context, q queryRower) (uint64, error) {
	var w int64
	if err := q.QueryRowContext(ctx, `SELECT size FROM watermark WHERE id = 1`).Scan(&w); err != nil {
		return 0, fmt.Errorf("couldn't read the key index's watermark: %w", err)
	}
	if w < 0 { // the CHECK forbids it
		return 0, fmt.Errorf("the key index's watermark is corrupt: %d", w)
	}
	return uint64(w), nil
}

// Store adds recs, the records of the keyed entries of [from, to), and moves
// the watermark from from to to, in one transaction. It returns an error
// wrapping ErrWatermark if the watermark is not from, and one wrapping
// ErrKeyExists if a key is already stored; either way nothing changes.
func (s *Store) Store(ctx context.Context, from, to uint64, recs []ledger.KeyRecord) error {
	if err := checkRecords(from, to, recs); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		w, err := readWatermark(ctx, tx)
		if err != nil {
			return err
		}
		if w != from {
			return fmt.Errorf("%w: storing [%d, %d) at watermark %d", ErrWatermark, from, to, w)
		}
		// In key order, the inserts walk the B-tree in one direction.
		sorted := slices.SortedFunc(slices.Values(recs), func(a, b ledger.KeyRecord) int { return strings.Compare(a.Key, b.Key) })
		if err := insert(ctx, tx, sorted); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE watermark SET size = ? WHERE id = 1`, int64(to)); err != nil {
			return fmt.Errorf("couldn't move the key index's watermark: %w", err)
		}
		return nil
	})
	if errors.Is(err, ErrKeyExists) {
		err = fmt.Errorf("%w: %s", err, s.which(ctx, recs))
	}
	if err != nil {
		return fmt.Errorf("couldn't store the keys of [%d, %d) in %s: %w", from, to, s.path, err)
	}
	return nil
}

// which says which of recs is already stored or twice in recs.
func (s *Store) which(ctx context.Context, recs []ledger.KeyRecord) string {
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Key
	}
	if found, err := s.Lookup(ctx, keys); err == nil && len(found) > 0 {
		return fmt.Sprintf("key %q is stored at index %d", found[0].Key, found[0].Index)
	}
	slices.Sort(keys)
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			return fmt.Sprintf("key %q is twice in the batch", keys[i])
		}
	}
	return "a key is stored already"
}

// checkRecords refuses records that are not those of entries of [from, to).
func checkRecords(from, to uint64, recs []ledger.KeyRecord) error {
	if to < from || to > 1<<63-1 {
		return fmt.Errorf("keyindex: cannot store the range [%d, %d)", from, to)
	}
	for _, r := range recs {
		if r.Key == "" || r.Index < from || r.Index >= to {
			return fmt.Errorf("keyindex: record %q at index %d is not a keyed entry of [%d, %d)", r.Key, r.Index, from, to)
		}
	}
	return nil
}

// insertRows bounds the rows of one INSERT statement (3 parameters each,
// well under SQLite's limit of 32766 parameters).
const insertRows = 1000

// insert inserts recs in statements of insertRows rows; the statement for a
// full chunk is prepared once.
func insert(ctx context.Context, tx *sql.Tx, recs []ledger.KeyRecord) error {
	var full *sql.Stmt
	vals := make([]any, 0, 3*min(len(recs), insertRows))
	for len(recs) > 0 {
		chunk := recs[:min(len(recs), insertRows)]
		recs = recs[len(chunk):]
		vals = vals[:0]
		for _, r := range chunk {
			vals = append(vals, []byte(r.Key), int64(r.Index), r.Hash[:])
		}
		var err error
		switch {
		case len(chunk) < insertRows:
			_, err = tx.ExecContext(ctx, insertSQL(len(chunk)), vals...)
		case full == nil:
			if full, err = tx.PrepareContext(ctx, insertSQL(insertRows)); err != nil {
				return err
			}
			defer full.Close()
			fallthrough
		default:
			_, err = full.ExecContext(ctx, vals...)
		}
		if isKeyExists(err) {
			return ErrKeyExists
		}
		if err != nil {
			return fmt.Errorf("couldn't insert keys: %w", err)
		}
	}
	return nil
}

func isKeyExists(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// insertSQL returns a multi-row INSERT of n rows.
func insertSQL(n int) string {
	return "INSERT INTO keys (key, idx, hash) VALUES " + strings.Repeat(",(?,?,?)", n)[1:]
}

// lookupSizes are the lengths of the IN lists of the prepared lookups; a
// lookup of fewer keys repeats its last key up to the next size. The last
// bounds the keys of one SELECT.
var lookupSizes = []int{1, 8, 64, 500}

// Lookup returns the stored records of those of keys that are stored.
func (s *Store) Lookup(ctx context.Context, keys []string) ([]ledger.KeyRecord, error) {
	// In key order, each statement walks the B-tree in one direction.
	keys = slices.Clone(keys)
	slices.Sort(keys)
	var out []ledger.KeyRecord
	maxKeys := lookupSizes[len(lookupSizes)-1]
	args := make([]any, 0, maxKeys)
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), maxKeys)]
		keys = keys[len(chunk):]
		args = args[:0]
		for _, k := range chunk {
			args = append(args, []byte(k))
		}
		i, _ := slices.BinarySearch(lookupSizes, len(args))
		for len(args) < lookupSizes[i] {
			args = append(args, args[len(args)-1])
		}
		var err error
		if out, err = lookup(ctx, s.lookups[i], out, args); err != nil {
			return nil, fmt.Errorf("couldn't look up keys in %s: %w", s.path, err)
		}
	}
	return out, nil
}

func lookup(ctx context.Context, stmt *sql.Stmt, out []ledger.KeyRecord, args []any) ([]ledger.KeyRecord, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var key, hash []byte
		var idx int64
		if err := rows.Scan(&key, &idx, &hash); err != nil {
			return nil, err
		}
		if idx < 0 || len(hash) != tiles.HashSize { // the CHECKs forbid both
			return nil, fmt.Errorf("the row of key %q is corrupt: index %d, %d-byte hash", key, idx, len(hash))
		}
		out = append(out, ledger.KeyRecord{Key: string(key), Index: uint64(idx), Hash: tiles.Hash(hash)})
	}
	return out, rows.Err()
}

// reset deletes every record and sets the watermark to 0.
func (s *Store) reset(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, stmt := range []string{`DELETE FROM keys`, `UPDATE watermark SET size = 0 WHERE id = 1`} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("couldn't reset the key index %s: %w", s.path, err)
			}
		}
		return nil
	})
}
