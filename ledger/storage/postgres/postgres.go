// Package postgres is the PostgreSQL storage driver: hash tiles, entry
// bundles, the committed state and the published checkpoint in tables of one
// database, one transaction per flush. Several ledger instances may share
// the database: the committed state is a single row that Commit moves with a
// compare-and-swap under the row's lock, so sequencing is serialised through
// the database and the log never forks.
//
// Tables (migrations/*.sql, applied by Open and recorded in
// log_schema_migrations):
//
//	log_tiles      (level, idx, width) -> hash tile      append-only
//	log_bundles    (idx, width) -> entry bundle         append-only
//	log_state      the committed size, root, checkpoint  one row, forward-only
//	log_published  the published checkpoint             one row, forward-only
//	log_keys       idempotency key -> index, leaf hash   append-only
//	log_keys_backfill  how far the keys of entries older than log_keys are filled in
//	log_pruned     the minimum index and archive pointer  one row, forward-only
//	log_prunes     every prune: range, archive, by whom, when  append-only
//
// A partial tile or bundle is its own row, keyed by its width: when the
// tile grows, the next width is a new row, so no row ever needs an UPDATE,
// and triggers refuse UPDATE, DELETE and TRUNCATE on log_tiles and
// log_bundles, except for the DELETE of pruned bundles by the SQL function
// log_prune (Prune), which records each prune in log_prunes. The two one-row tables are what moves; triggers refuse to move
// them backwards or delete them.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledger-dev/ledger/internal/pgschema"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// migrations holds the schema, one numbered SQL file per change
// (NNNN_name.sql), recorded in log_schema_migrations.
//
//go:embed migrations/*.sql
var migrations embed.FS

// logSchema returns the log's schema.
func logSchema() (pgschema.Schema, error) {
	steps, err := pgschema.Files(migrations, "migrations")
	return pgschema.Schema{Component: "log", Steps: steps}, err
}

// Config configures a Storage. Exactly one of DSN and Pool is set.
type Config struct {
	// DSN is the connection string (postgres://... URL or keyword/value) of
	// the log's database. pgxpool settings such as pool_max_conns may be
	// given in it; the pool's default size is max(4, number of CPUs).
	DSN string
	// Pool is an open pool to the log's database, used instead of DSN. Close
	// leaves it open.
	Pool *pgxpool.Pool
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
	// KeyOf returns the idempotency key of a leaf, "" for none (the
	// ledger's Config.KeyOf). Open needs it only for a log whose entries
	// were committed before the key index (log_keys) existed, to fill in
	// their keys from the stored bundles; with KeyOf nil, Open refuses such
	// a log with ErrBackfill.
	KeyOf func(leaf []byte) (string, error)
}

func (c *Config) validate() error {
	if (c.DSN == "") == (c.Pool == nil) {
		return errors.New("postgres: exactly one of Config.DSN and Config.Pool is required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Storage is the PostgreSQL storage driver. It implements ledger.Storage,
// ledger.Pruner and ledger.KeyStore (it keeps the idempotency-key index itself, written by
// Commit), and is safe for concurrent use, also by several processes over
// one database.
type Storage struct {
	pool  *pgxpool.Pool
	owned bool // the pool was opened from Config.DSN, and Close closes it
	log   *slog.Logger
	keyOf func([]byte) (string, error)
}

// Open connects to the database, refuses one where a commit PostgreSQL
// acknowledged could be lost in a crash (synchronous_commit=off), applies
// the schema migrations the database lacks, and fills in the key index of
// entries committed before it existed (see Config.KeyOf).
func Open(ctx context.Context, cfg Config) (*Storage, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Storage{pool: cfg.Pool, log: cfg.Logger, keyOf: cfg.KeyOf}
	if s.pool == nil {
		pc, err := pgxpool.ParseConfig(cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("couldn't parse the PostgreSQL DSN: %w", err)
		}
		if s.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
			return nil, fmt.Errorf("couldn't connect to PostgreSQL: %w", err)
		}
		s.owned = true
	}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Storage) start(ctx context.Context) error {
	var syncCommit, fsync string
	err := s.pool.QueryRow(ctx, `SELECT current_setting('synchronous_commit'), current_setting('fsync')`).Scan(&syncCommit, &fsync)
	if err != nil {
		return fmt.Errorf("couldn't connect to PostgreSQL: %w", err)
	}
	if syncCommit == "off" {
		return errors.New("postgres: synchronous_commit is off for this database: a commit PostgreSQL acknowledged, " +
			"and the entries in it, could be lost in a crash; set it to on (ALTER DATABASE ... SET synchronous_commit = on)")
	}
	if fsync == "off" {
		s.log.Warn("postgres runs with fsync=off: a crash of the database server may lose acknowledged entries; use this only for tests")
	}
	schema, err := logSchema()
	if err != nil {
		return err
	}
	applied, err := schema.Migrate(ctx, s.pool)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		s.log.Info("log schema migrated", "applied", applied)
	}
	return s.backfill(ctx)
}

// Close closes the connection pool, unless it came from Config.Pool.
func (s *Storage) Close() error {
	if s.owned {
		s.pool.Close()
	}
	return nil
}

// Pool returns the connection pool, for tests and tools that read the
// tables directly.
func (s *Storage) Pool() *pgxpool.Pool { return s.pool }

// State returns the committed state: the zero State for a new log.
func (s *Storage) State(ctx context.Context) (ledger.State, error) {
	var size int64
	var root, cp []byte
	err := s.pool.QueryRow(ctx, `SELECT size, root, checkpoint FROM log_state`).Scan(&size, &root, &cp)
	if errors.Is(err, pgx.ErrNoRows) {
		return ledger.State{}, nil
	}
	if err != nil {
		return ledger.State{}, fmt.Errorf("couldn't read the committed state: %w", err)
	}
	if size < 0 || len(root) != tiles.HashSize { // the table's CHECKs forbid both
		return ledger.State{}, fmt.Errorf("the committed state row is corrupt: size %d, %d-byte root", size, len(root))
	}
	return ledger.State{Size: uint64(size), Root: tiles.Hash(root), Checkpoint: cp}, nil
}

// ReadTile returns a committed hash tile or entry bundle. Tiles beyond the
// committed state do not exist here: a flush's tiles become visible only
// with the state that covers them. A bundle the log pruned is a
// *tiles.PrunedError (log_prune deletes it in the transaction that records
// the minimum index).
func (s *Storage) ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error) {
	idx, err := toInt64(t.Index)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Path(), tiles.ErrNotFound)
	}
	var data []byte
	if t.Entries {
		err = s.pool.QueryRow(ctx, `SELECT data FROM log_bundles WHERE idx = $1 AND width = $2`,
			idx, int16(t.Width)).Scan(&data)
	} else {
		err = s.pool.QueryRow(ctx, `SELECT data FROM log_tiles WHERE level = $1 AND idx = $2 AND width = $3`,
			int16(t.Level), idx, int16(t.Width)).Scan(&data)
	}
	if errors.Is(err, pgx.ErrNoRows) && t.Entries {
		return nil, s.prunedBundle(ctx, t)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", t.Path(), tiles.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read tile %s: %w", t.Path(), err)
	}
	return data, nil
}

// Publish records checkpoint as the one served to readers, unless a
// checkpoint of a larger size is already published (by another instance
// sharing the database): the published checkpoint never moves backwards.
// At an equal size the newer note wins, since it may carry more
// cosignatures.
func (s *Storage) Publish(ctx context.Context, checkpoint []byte) error {
	return s.PublishWith(ctx, checkpoint, nil)
}

// PublishWith is Publish for a log that also serves its checkpoint from
// elsewhere (the bucket driver): when the checkpoint is recorded, write is
// called while the transaction holds the published row's lock, and the
// record commits only if write returns nil. So instances sharing the
// database write the outside copy one at a time, in the order of their
// sizes, and never replace a larger checkpoint there with a smaller one.
// A nil write is Publish.
func (s *Storage) PublishWith(ctx context.Context, checkpoint []byte, write func(context.Context) error) error {
	size, err := noteSize(checkpoint)
	if err != nil {
		return fmt.Errorf("couldn't publish: %w", err)
	}
	// The history first, in its own statement: a checkpoint in the history
	// that a crash kept from being served is harmless (the log signed it).
	// A republish of the last checkpoint of its size adds nothing.
	if _, err := s.pool.Exec(ctx, `INSERT INTO log_checkpoints (size, checkpoint) SELECT $1, $2
		WHERE NOT EXISTS (SELECT 1 FROM (SELECT checkpoint FROM log_checkpoints WHERE size = $1 ORDER BY id DESC LIMIT 1) l
			WHERE l.checkpoint = $2)`, size, checkpoint); err != nil {
		return fmt.Errorf("couldn't record the checkpoint of size %d: %w", size, err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("couldn't publish the checkpoint of size %d: %w", size, err)
	}
	defer tx.Rollback(context.Background()) // a no-op after Commit
	tag, err := tx.Exec(ctx, `INSERT INTO log_published (size, checkpoint) VALUES ($1, $2)
		ON CONFLICT (only_row) DO UPDATE
		SET size = excluded.size, checkpoint = excluded.checkpoint, published_at = now()
		WHERE log_published.size <= excluded.size`, size, checkpoint)
	if err != nil {
		return fmt.Errorf("couldn't publish the checkpoint of size %d: %w", size, err)
	}
	if tag.RowsAffected() == 0 {
		s.log.Debug("a larger checkpoint is already published", "size", size)
		return nil
	}
	if write != nil {
		if err := write(ctx); err != nil {
			return fmt.Errorf("couldn't publish the checkpoint of size %d: %w", size, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("couldn't publish the checkpoint of size %d: %w", size, err)
	}
	return nil
}

// FirstCovering returns the first published checkpoint that covers the
// entry at index (see ledger.CheckpointHistory).
func (s *Storage) FirstCovering(ctx context.Context, index uint64) ([]byte, error) {
	i, err := toInt64(index)
	if err != nil {
		return nil, err
	}
	var cp []byte
	err = s.pool.QueryRow(ctx, `SELECT checkpoint FROM log_checkpoints
		WHERE size = (SELECT min(size) FROM log_checkpoints WHERE size > $1) ORDER BY id DESC LIMIT 1`, i).Scan(&cp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("no published checkpoint covers entry %d yet: %w", index, tiles.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the checkpoint history: %w", err)
	}
	return cp, nil
}

// HoldsTiles reports whether the log's tiles are in the database: false
// for a new log, and for one whose tiles the bucket driver keeps in a
// bucket (the database then holds its state and keys only).
func (s *Storage) HoldsTiles(ctx context.Context) (bool, error) {
	var holds bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM log_tiles)`).Scan(&holds); err != nil {
		return false, fmt.Errorf("couldn't read the tile table: %w", err)
	}
	return holds, nil
}

// Published returns the published checkpoint, or an error wrapping
// tiles.ErrNotFound if there is none yet.
func (s *Storage) Published(ctx context.Context) ([]byte, error) {
	var cp []byte
	err := s.pool.QueryRow(ctx, `SELECT checkpoint FROM log_published`).Scan(&cp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", tiles.CheckpointPath, tiles.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the published checkpoint: %w", err)
	}
	return cp, nil
}

// noteSize returns the tree size of a signed checkpoint note, read from its
// text (the signatures were made by the ledger and are not checked here).
func noteSize(note []byte) (int64, error) {
	cp, err := tiles.ParseNoteCheckpoint(note)
	if err != nil {
		return 0, err
	}
	return toInt64(cp.Size)
}

// toInt64 converts a size or index to PostgreSQL's bigint.
func toInt64(v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%d does not fit in a PostgreSQL bigint", v)
	}
	return int64(v), nil
}
