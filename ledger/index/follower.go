package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/ledger-dev/ledger/tiles"
)

// Log is the log an index projects.
type Log interface {
	// Bundle returns the entries of entry bundle n of the tree of size
	// entries (the partial bundle if n is the last one).
	Bundle(ctx context.Context, n, size uint64) ([][]byte, error)
	// LeafHashes returns the leaf hashes in level-0 tile n of the tree of
	// size entries.
	LeafHashes(ctx context.Context, n, size uint64) ([]tiles.Hash, error)
}

// TileReader reads committed tiles and entry bundles (a storage driver).
type TileReader interface {
	ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error)
}

// StorageLog is the Log of a storage driver's committed tiles: what the
// server's own follower reads.
func StorageLog(r TileReader) Log { return storageLog{r} }

type storageLog struct{ r TileReader }

func (s storageLog) Bundle(ctx context.Context, n, size uint64) ([][]byte, error) {
	t, ok := tiles.BundleFor(n, size)
	if !ok {
		return nil, fmt.Errorf("entry bundle %d is not in a tree of size %d", n, size)
	}
	return tiles.ReadEntryBundle(ctx, s.r, t)
}

func (s storageLog) LeafHashes(ctx context.Context, n, size uint64) ([]tiles.Hash, error) {
	t, ok := tiles.TileFor(0, n, size)
	if !ok {
		return nil, fmt.Errorf("tile %d is not in a tree of size %d", n, size)
	}
	return tiles.HashTiles(s.r).ReadTile(ctx, t)
}

// TreeLog is the Log of a verified checkpoint's tree, read through the
// verifying client: every bundle and tile is authenticated against the
// checkpoint before the index sees it. Only the checkpoint's size can be
// read.
func TreeLog(t *tiles.Tree) Log { return treeLog{t} }

type treeLog struct{ t *tiles.Tree }

func (l treeLog) check(size uint64) error {
	if cp := l.t.Checkpoint(); size != cp.Size {
		return fmt.Errorf("asked for the tree of size %d from a checkpoint of size %d", size, cp.Size)
	}
	return nil
}

func (l treeLog) Bundle(ctx context.Context, n, size uint64) ([][]byte, error) {
	if err := l.check(size); err != nil {
		return nil, err
	}
	return l.t.Bundle(ctx, n)
}

func (l treeLog) LeafHashes(ctx context.Context, n, size uint64) ([]tiles.Hash, error) {
	if err := l.check(size); err != nil {
		return nil, err
	}
	t, ok := tiles.TileFor(0, n, size)
	if !ok {
		return nil, fmt.Errorf("tile %d is not in a tree of size %d", n, size)
	}
	return l.t.ReadTile(ctx, t)
}

// FollowerConfig configures a Follower. Zero values take the documented defaults.
type FollowerConfig struct {
	// Store is the index. Required.
	Store Store
	// Log is the log it projects. Required.
	Log Log
	// Size returns how many entries of the log are integrated and may be
	// read: the committed size, as storage has it now (with several
	// instances on one log, not one instance's view of it, which may lag
	// what another has committed and indexed). Required.
	Size func(ctx context.Context) (uint64, error)
	// Minimum, if set, returns the log's minimum index (0 for a log never
	// pruned): the follower drops the index's rows below it whenever it
	// moves, and indexes nothing below it.
	Minimum func(ctx context.Context) (uint64, error)
	// Interval is how often the follower looks for new entries. Default 250ms.
	Interval time.Duration
	// Logger receives the follower's errors. Default slog.Default().
	Logger *slog.Logger
}

// Follower keeps an index up to date with its log.
type Follower struct {
	cfg     FollowerConfig
	adopted bool          // the index was checked to be this log's
	pruned  uint64        // the minimum index the index was last pruned to
	indexed atomic.Uint64 // the index's size after the last Sync
}

// NewFollower validates cfg and returns a Follower; Run starts it.
func NewFollower(cfg FollowerConfig) (*Follower, error) {
	if cfg.Store == nil || cfg.Log == nil || cfg.Size == nil {
		return nil, errors.New("index: FollowerConfig.Store, Log and Size are required")
	}
	if cfg.Interval < 0 {
		return nil, errors.New("index: FollowerConfig.Interval must not be negative")
	}
	if cfg.Interval == 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Follower{cfg: cfg}, nil
}

// Run catches up with the log, then polls it every Interval until ctx is
// done. Errors are retried at the next poll, and logged at most every 10 s
// while they last (a full disk fails every poll).
func (f *Follower) Run(ctx context.Context) {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	logged := rate.Sometimes{Interval: 10 * time.Second}
	for {
		if _, err := f.Sync(ctx); err != nil && ctx.Err() == nil {
			logged.Do(func() { f.cfg.Logger.Error("couldn't update the query index; retrying", "err", err) })
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync indexes every entry up to the log's current size and returns the
// index's size. It fails with ErrAhead, indexing nothing, if the index holds
// more entries than the log.
func (f *Follower) Sync(ctx context.Context) (uint64, error) {
	size, err := f.cfg.Size(ctx)
	if err != nil {
		return 0, fmt.Errorf("couldn't read the log size: %w", err)
	}
	if !f.adopted && size > 0 {
		if err := f.adopt(ctx, size); err != nil {
			return 0, err
		}
		f.adopted = true
	}
	if err := f.prune(ctx); err != nil {
		return 0, err
	}
	indexed, err := catchUp(ctx, f.cfg.Store, f.cfg.Log, size, f.cfg.Logger)
	if err != nil {
		return indexed, err
	}
	f.indexed.Store(indexed)
	if indexed <= size {
		return indexed, nil
	}
	return indexed, f.checkAhead(ctx, indexed)
}

// prune drops the index's rows below the log's minimum index, when it
// moved since the last time (or on the first Sync).
func (f *Follower) prune(ctx context.Context) error {
	if f.cfg.Minimum == nil {
		return nil
	}
	m, err := f.cfg.Minimum(ctx)
	if err != nil {
		return fmt.Errorf("couldn't read the log's minimum index: %w", err)
	}
	if m == 0 || m == f.pruned {
		return nil
	}
	if err := f.cfg.Store.Prune(ctx, m); err != nil {
		return err
	}
	f.pruned = m
	return nil
}

// Check fails with ErrAhead if the index holds more entries than the log.
func (f *Follower) Check(ctx context.Context) error {
	indexed, err := f.cfg.Store.Size(ctx)
	if err != nil {
		return err
	}
	return f.checkAhead(ctx, indexed)
}

// checkAhead fails with ErrAhead if the log's size, read now, is below
// indexed, the index's size read before. Another instance sharing the log
// and the index may have committed and indexed since the follower last read
// the size; the log's size read after the index's is at least what any
// instance had indexed then, unless the log went back.
func (f *Follower) checkAhead(ctx context.Context, indexed uint64) error {
	size, err := f.cfg.Size(ctx)
	if err != nil {
		return fmt.Errorf("couldn't read the log size: %w", err)
	}
	if indexed > size {
		return fmt.Errorf("%w: the index holds %d entries and the log %d (was the log rolled back or replaced?); `ledger index rebuild` fills it again from the log", ErrAhead, indexed, size)
	}
	return nil
}

// Indexed returns the index's size after the last Sync that succeeded (0
// before one): the log's entries below it are indexed. The log's size
// minus Indexed is how far the index lags.
func (f *Follower) Indexed() uint64 { return f.indexed.Load() }

// adopt checks that the index was filled from this log, by its first
// entry, and resets it if not: a log directory that was replaced, or a
// database that was reused, must not leave another log's rows to be
// answered under this log's indexes.
func (f *Follower) adopt(ctx context.Context, size uint64) error {
	rows, err := f.cfg.Store.Query(ctx, Query{Below: 1, Order: ByIndex, Limit: 1})
	if err != nil || len(rows) == 0 {
		return err
	}
	hs, err := f.cfg.Log.LeafHashes(ctx, 0, size)
	if err != nil {
		return fmt.Errorf("couldn't read the log's first leaf hash: %w", err)
	}
	if rows[0].LeafHash == hs[0] {
		return nil
	}
	f.cfg.Logger.Warn("the query index holds another log's entries; filling it again from this log",
		"index_first_leaf", rows[0].LeafHash.String(), "log_first_leaf", hs[0].String())
	return f.cfg.Store.Reset(ctx)
}

// Rebuild deletes every row of s and indexes the entries of l from
// minimum, the log's minimum index (0 for a log never pruned), up to size
// again. Entries that are not events are logged to log (nil:
// slog.Default()).
func Rebuild(ctx context.Context, s Store, l Log, minimum, size uint64, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if err := s.Reset(ctx); err != nil {
		return err
	}
	if err := s.Prune(ctx, minimum); err != nil {
		return err
	}
	_, err := catchUp(ctx, s, l, size, log)
	return err
}

// batchRows is how many rows one Append adds at most: 16 bundles.
const batchRows = 16 * tiles.TileWidth

// catchUp indexes entries until the index holds size of them. Appends that
// lose a race to another writer (ErrConflict) start again from the new size.
func catchUp(ctx context.Context, s Store, l Log, size uint64, log *slog.Logger) (uint64, error) {
	for {
		from, err := s.Size(ctx)
		if err != nil {
			return 0, err
		}
		if from >= size {
			// Done; or another instance, whose log is further along than
			// this one knows, indexed more.
			return from, nil
		}
		rows, err := readRows(ctx, l, from, size, log)
		if err != nil {
			return from, err
		}
		if err := s.Append(ctx, from, rows); err != nil && !errors.Is(err, ErrConflict) {
			return from, err
		}
	}
}

// readRows reads the rows of entries from up to size, at most about
// batchRows of them, whole bundles at a time.
func readRows(ctx context.Context, l Log, from, size uint64, log *slog.Logger) ([]Row, error) {
	var rows []Row
	for i := from; i < size && len(rows) < batchRows; {
		n := i / tiles.TileWidth
		entries, err := l.Bundle(ctx, n, size)
		if err != nil {
			return nil, err
		}
		if uint64(len(entries)) <= i%tiles.TileWidth {
			return nil, fmt.Errorf("entry bundle %d has %d entries, and entry %d is not among them", n, len(entries), i)
		}
		for ; i < n*tiles.TileWidth+uint64(len(entries)); i++ {
			r, ok := NewRow(i, entries[i%tiles.TileWidth])
			if !ok {
				log.Warn("log entry is not an event; indexed without columns", "index", i)
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}
