package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/ledger-dev/ledger/tiles"
)

// State is the log's committed state: what survives a crash.
type State struct {
	// Size is the number of entries committed.
	Size uint64
	// Root is the tree's root hash at Size.
	Root tiles.Hash
	// Checkpoint is the log-signed checkpoint note for (Size, Root).
	Checkpoint []byte
}

// Flush is one group commit: the tiles and bundles that changed and the state
// they lead to.
type Flush struct {
	// Old is the state the flush extends; New the state it commits.
	Old, New State
	// Tiles holds the content of every hash tile and entry bundle (Entries
	// set) that the flush creates: the full ones it completed and the partial
	// ones of the new size. Full tiles never change once committed.
	Tiles map[tiles.Tile][]byte
	// Keys are the records of the flush's keyed entries, in index order.
	// A Storage that implements KeyStore stores them in Commit, in the
	// same transaction; any other ignores them.
	Keys []KeyRecord
}

// Unchanged reports whether tile t of the flush is already committed by
// f.Old at its width (an edge tile the flush did not change): a driver
// need not write it again.
func (f *Flush) Unchanged(t tiles.Tile) bool {
	old, ok := tileIn(t, f.Old.Size)
	return ok && old == t
}

// CheckFullTiles returns an error if the flush holds a tile that f.Old
// commits as a full tile: committed full tiles never change, and a driver
// refuses such a flush before it writes anything.
func (f *Flush) CheckFullTiles() error {
	for t := range f.Tiles {
		if old, ok := tileIn(t, f.Old.Size); ok && old.Full() {
			return fmt.Errorf("flush rewrites committed full tile %s", t.Path())
		}
	}
	return nil
}

// tileIn returns tile t as it exists in a tree of size leaves.
func tileIn(t tiles.Tile, size uint64) (tiles.Tile, bool) {
	if t.Entries {
		return tiles.BundleFor(t.Index, size)
	}
	return tiles.TileFor(t.Level, t.Index, size)
}

// Storage is a storage driver: where the sequencer makes flushes durable and
// where the read API finds tiles.
//
// Contract:
//   - State returns the committed state; a new log has a zero State.
//   - Commit makes everything in the flush durable, then atomically replaces
//     the committed state with f.New, but only if the committed state is still
//     f.Old (compare-and-swap; otherwise ErrConflict and nothing changes).
//     When Commit returns nil, a crash at any later point leaves f.New
//     committed. When it returns an error, the committed state is f.Old or
//     f.New, and the caller must call State to learn which.
//   - ReadTile returns the bytes of a committed tile or bundle, or an error
//     wrapping tiles.ErrNotFound. A tile beyond the committed state may be
//     garbage from a failed flush: callers only ask for tiles of committed
//     (in practice, published) sizes.
//   - Publish durably replaces the checkpoint served to readers at
//     tiles.CheckpointPath, which may lag the committed state.
type Storage interface {
	State(ctx context.Context) (State, error)
	Commit(ctx context.Context, f *Flush) error
	ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error)
	Publish(ctx context.Context, checkpoint []byte) error
}

// CheckpointHistory is a Storage that keeps every checkpoint it published,
// so that an entry can be proven against the first checkpoint that covered
// it: the cosignatures on that one bound when the entry existed.
//
// Contract:
//   - Publish also records checkpoint in the history, durably, before it
//     returns; a checkpoint identical to the last one recorded at its size
//     is not recorded again (the publisher republishes a size to collect
//     cosignatures).
//   - FirstCovering returns the checkpoint of the smallest size above index
//     (the first to include the entry at index), as last published at that
//     size (with every cosignature collected by then), or an error wrapping
//     tiles.ErrNotFound when none is recorded.
type CheckpointHistory interface {
	FirstCovering(ctx context.Context, index uint64) ([]byte, error)
}

// PublishedReader is a Storage that several instances share (one
// database, one bucket): Published returns the newest checkpoint any of
// them published, or an error wrapping tiles.ErrNotFound before the first.
// A ledger over such a storage follows it (see Config.ReadOnly), so that no
// instance serves an older checkpoint than another has published.
type PublishedReader interface {
	Published(ctx context.Context) ([]byte, error)
}

// ErrConflict is returned by Storage.Commit when the committed state is not
// the flush's Old state: another writer moved the log.
var ErrConflict = errors.New("committed state changed underneath the flush")

// Pruner is a Storage that can prune the log's left edge, as C2SP
// tlog-tiles defines it: the entry bundles below a minimum index go, the
// hash tiles stay, so every inclusion and consistency proof keeps
// verifying.
//
// Contract:
//   - Pruned returns how far the log is pruned: the zero Pruned (minimum
//     index 0) for a log never pruned.
//   - Prune records p durably first, then deletes every entry bundle (full
//     or partial) that p refuses (tiles.Pruned.Refuses). It refuses, with an
//     error wrapping ErrPrune and changing nothing, a minimum index that is
//     not a multiple of tiles.TileWidth, beyond the committed size, or below
//     the recorded one: the minimum index never goes down. Pruning again to
//     the recorded minimum index is allowed (it may change the archive
//     pointer) and deletes what a run that failed or died left; a driver
//     may also complete such a run when it opens (posix does; the bucket
//     driver when its Resume is called, as serve does at start).
//   - From the moment p is recorded, ReadTile of a bundle that p refuses
//     returns a *tiles.PrunedError, whether its bytes are deleted yet or not.
type Pruner interface {
	Pruned(ctx context.Context) (tiles.Pruned, error)
	Prune(ctx context.Context, p tiles.Pruned) error
}

// ErrPrune is wrapped by the error of Pruner.Prune for a minimum index it
// refuses.
var ErrPrune = errors.New("invalid prune")

// CheckPrune returns an error wrapping ErrPrune unless a log of committed
// size, pruned as old, may be pruned as p (see Pruner).
func CheckPrune(old, p tiles.Pruned, size uint64) error {
	switch m := p.MinimumIndex; {
	case m%tiles.TileWidth != 0:
		return fmt.Errorf("%w: minimum index %d is not a multiple of %d", ErrPrune, m, tiles.TileWidth)
	case m > size:
		return fmt.Errorf("%w: minimum index %d is beyond the committed size %d", ErrPrune, m, size)
	case m < old.MinimumIndex:
		return fmt.Errorf("%w: minimum index %d is below the recorded one, %d: it never goes down", ErrPrune, m, old.MinimumIndex)
	case p.Archive != nil && p.Archive.Location == "":
		return fmt.Errorf("%w: an archive without a location", ErrPrune)
	}
	return nil
}

// RefusedBundles returns the number of entry bundles a log pruned as p
// refuses: bundles 0 to RefusedBundles(p)-1, full and partial.
func RefusedBundles(p tiles.Pruned) uint64 { return p.MinimumIndex / tiles.TileWidth }
