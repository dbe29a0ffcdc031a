// Package bucket is the object-storage driver: hash tiles, entry bundles
// and the published checkpoint are objects of a blob.Store (an
// S3-compatible bucket, through blob/s3, or a directory), named as the
// C2SP tlog-tiles read API and written with its content types and cache
// headers, so the bucket itself is a read endpoint behind any CDN or
// static host. Sequencing, the committed state and the idempotency-key
// index are in PostgreSQL (a postgres.Storage whose tile tables stay
// empty), as in Tessera's AWS driver.
//
// Why PostgreSQL and not a conditional write on a state object in the
// bucket: several instances may append at once, and each must find every
// key already logged by the others before it acknowledges an entry as new;
// PostgreSQL gives that key index and the compare-and-swap of the state in
// one transaction, which the PostgreSQL driver already has and tests. A
// bucket would need a key index of its own, and conditional writes differ
// between S3 implementations.
//
// Layout (in the store, under its prefix if any):
//
//	checkpoint                     the published checkpoint  text/plain; charset=utf-8, no-cache
//	tile/<L>/<N>[.p/<W>]           hash tiles                application/octet-stream, immutable
//	tile/entries/<N>[.p/<W>]       entry bundles             application/octet-stream, immutable
//	pruned.json                    how far the log is pruned application/json, no-cache (once it is)
//
// A commit takes the state row's lock in PostgreSQL (the compare-and-swap
// from f.Old), writes the flush's new tiles and bundles, each as a
// create-only conditional Put, and then commits the transaction: tiles are
// durable before the state that covers them, and only one writer at a time
// writes. A crash leaves tiles beyond the committed tree; the next flush
// that reaches such a path finds it taken, and as it holds the lock and
// the path is beyond the committed tree, replaces it. The create-only Put
// is what keeps a writer that lost its lock without knowing (a network
// partition from PostgreSQL) from overwriting a tile that another writer
// committed since: its late Put finds the path taken and fails.
package bucket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/storage/postgres"
	"github.com/ledger-dev/ledger/tiles"
)

// Config configures a Storage.
type Config struct {
	// Objects holds the tiles, bundles and published checkpoint. Required.
	Objects blob.Store
	// DB sequences: the committed state, the published checkpoint's
	// record and the key index. Required; Close closes it.
	DB *postgres.Storage
	// Concurrency is how many objects one flush writes at once. Default 32.
	Concurrency int
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
}

// Storage is the object-storage driver. It implements ledger.Storage,
// ledger.Pruner and ledger.KeyStore (the key index is the database's), and is safe for
// concurrent use, also by several processes over one database and bucket.
type Storage struct {
	objects blob.Store
	db      *postgres.Storage
	workers int
	log     *slog.Logger
	gc      collector
	pruned  atomic.Pointer[tiles.Pruned] // as last read from or recorded in the database
}

// New returns the driver over cfg's store and database.
func New(cfg Config) (*Storage, error) {
	if cfg.Objects == nil || cfg.DB == nil {
		return nil, errors.New("bucket: Config.Objects and Config.DB are required")
	}
	if cfg.Concurrency < 0 {
		return nil, errors.New("bucket: Config.Concurrency must not be negative")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 32
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Storage{objects: cfg.Objects, db: cfg.DB, workers: cfg.Concurrency, log: cfg.Logger}
	s.gc.s = s
	s.gc.ctx, s.gc.stop = context.WithCancel(context.Background())
	return s, nil
}

// Close stops the deletion of superseded partial tiles, if one is under
// way, and closes the database.
func (s *Storage) Close() error {
	s.gc.close()
	return s.db.Close()
}

// State returns the committed state, from the database.
func (s *Storage) State(ctx context.Context) (ledger.State, error) { return s.db.State(ctx) }

// Commit writes the flush's new tiles and bundles to the store under the
// database's lock on the committed state, then commits the state (see the
// package comment).
func (s *Storage) Commit(ctx context.Context, f *ledger.Flush) error {
	if err := f.CheckFullTiles(); err != nil {
		return err
	}
	return s.db.CommitWith(ctx, f, func(ctx context.Context) error { return s.writeTiles(ctx, f) })
}

// writeTiles puts the tiles of f that f.Old does not hold, in parallel.
func (s *Storage) writeTiles(ctx context.Context, f *ledger.Flush) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.workers)
	for t, data := range f.Tiles {
		if f.Unchanged(t) {
			continue
		}
		g.Go(func() error { return s.putTile(ctx, t, data) })
	}
	return g.Wait()
}

// putTile creates the object of a tile beyond the committed tree. A path
// already taken holds the same bytes (a flush retried after a lost answer)
// or garbage of a flush that never committed; the caller holds the commit
// lock, so garbage is replaced.
func (s *Storage) putTile(ctx context.Context, t tiles.Tile, data []byte) error {
	opts := blob.PutOptions{IfAbsent: true, ContentType: tiles.TileContentType, CacheControl: tiles.TileCacheControl}
	err := s.objects.Put(ctx, t.Path(), data, opts)
	if !errors.Is(err, blob.ErrExists) {
		return err
	}
	cur, err := s.objects.Get(ctx, t.Path())
	if err != nil {
		return err
	}
	if bytes.Equal(cur, data) {
		return nil
	}
	s.log.Info("replacing a tile left by a flush that did not commit", "tile", t.Path())
	opts.IfAbsent = false
	return s.objects.Put(ctx, t.Path(), data, opts)
}

// ReadTile reads a tile or bundle from the store; a bundle the log has
// pruned is a *tiles.PrunedError.
func (s *Storage) ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error) {
	if err := s.prunedBy(ctx, t, false); err != nil {
		return nil, err
	}
	b, err := s.objects.Get(ctx, t.Path())
	if errors.Is(err, blob.ErrNotExist) {
		if err := s.prunedBy(ctx, t, true); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", t.Path(), tiles.ErrNotFound)
	}
	return b, err
}

// Publish records the checkpoint in the database and, under the lock of
// that record, writes it to the store's checkpoint object, unless a larger
// one is published already.
//
// It then deletes, in the background, the partial tiles that full ones
// replaced before the previous publish (see collector).
func (s *Storage) Publish(ctx context.Context, checkpoint []byte) error {
	var size uint64
	err := s.db.PublishWith(ctx, checkpoint, func(ctx context.Context) error {
		cp, err := tiles.ParseNoteCheckpoint(checkpoint)
		if err != nil {
			return err
		}
		size = cp.Size
		return s.objects.Put(ctx, tiles.CheckpointPath, checkpoint,
			blob.PutOptions{ContentType: tiles.CheckpointContentType, CacheControl: tiles.CheckpointCacheControl})
	})
	if err == nil && size > 0 {
		s.gc.published(size)
	}
	return err
}

// Published returns the published checkpoint, or an error wrapping
// tiles.ErrNotFound if there is none yet.
func (s *Storage) Published(ctx context.Context) ([]byte, error) { return s.db.Published(ctx) }

// FirstCovering returns the first published checkpoint that covers the
// entry at index (ledger.CheckpointHistory): the database keeps the
// history, written by Publish.
func (s *Storage) FirstCovering(ctx context.Context, index uint64) ([]byte, error) {
	return s.db.FirstCovering(ctx, index)
}

// Watermark is the key index's watermark: the committed size.
func (s *Storage) Watermark(ctx context.Context) (uint64, error) { return s.db.Watermark(ctx) }

// Lookup looks keys up in the database's key index.
func (s *Storage) Lookup(ctx context.Context, keys []string) ([]ledger.KeyRecord, error) {
	return s.db.Lookup(ctx, keys)
}

// Store is the database's, which refuses: Commit stores the keys (see
// ledger.KeyStore), and the ledger never calls Store.
func (s *Storage) Store(ctx context.Context, from, to uint64, recs []ledger.KeyRecord) error {
	return s.db.Store(ctx, from, to, recs)
}
