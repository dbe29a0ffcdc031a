package tiles

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// ErrTampered is returned (wrapped) when a tile, bundle or checkpoint does not
// match what the verified data commits to.
var ErrTampered = errors.New("log data does not match its commitments")

// AuditOptions tunes Audit.
type AuditOptions struct {
	// Workers is the number of bundles hashed in parallel; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called from one goroutine with the number of
	// leaves checked so far, after every bundle.
	Progress func(leaves uint64)
	// Entry, if set, is called with every entry read and found to match its
	// leaf hash, from the workers at once and in no order; the entries are
	// authenticated only once the audit has passed. It must not keep entry.
	Entry func(index uint64, entry []byte)
}

// AuditResult is what AuditLog established about a log.
type AuditResult struct {
	// Pruned is the log's Pruned document (served at PrunedPath), as the log
	// claims it: the zero Pruned for a log that serves none.
	Pruned Pruned
	// Refused counts the entries whose bundles the log refused as pruned:
	// their leaf hashes come from the level-0 tiles, authenticated by the
	// root like every other tile, but their entries were not read.
	Refused uint64
	// RefusedEnd is the end of the last bundle refused: with Refused equal
	// to it, the entries [0, RefusedEnd) are pruned and no others.
	RefusedEnd uint64
	// Rehashed counts the entries read and hashed again.
	Rehashed uint64
}

// Audit is AuditLog without its result.
func Audit(ctx context.Context, f Fetcher, cp Checkpoint, opts AuditOptions) error {
	_, err := AuditLog(ctx, f, cp, opts)
	return err
}

// AuditLog checks a whole log against a verified checkpoint: it reads every
// entry bundle, recomputes every leaf hash, every hash tile at every level
// and the root hash, and compares each against what the log serves. Bundles
// are hashed in parallel; memory stays bounded (a window of bundles in flight
// plus one tile per level), whatever the size of the log.
//
// A pruned log refuses the bundles below its minimum index (a *PrunedError
// from the Fetcher): their level-0 tiles are still checked against the tiles
// above them and the root, so every proof of those entries still holds, but
// the entries themselves cannot be hashed. The log's Pruned document is an
// unsigned claim: a minimum index that is not a multiple of 256, or a bundle
// refused above it, fails the audit.
func AuditLog(ctx context.Context, f Fetcher, cp Checkpoint, opts AuditOptions) (AuditResult, error) {
	var res AuditResult
	claim, err := FetchPruned(ctx, f)
	if err != nil {
		return res, err
	}
	res.Pruned = claim
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)

	type job struct {
		n   uint64
		out chan bundleCheck
	}
	count := BundleCount(cp.Size)
	jobs := make(chan job)
	queue := make(chan chan bundleCheck, 4*workers) // results in bundle order
	go func() {
		defer close(jobs)
		defer close(queue)
		for n := uint64(0); n < count; n++ {
			// Hand the job to a worker before queueing its result channel:
			// every channel the consumer receives must get a result.
			j := job{n: n, out: make(chan bundleCheck, 1)}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
			select {
			case queue <- j.out:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var scratch [TileWidth]Hash
			for j := range jobs {
				j.out <- checkBundle(ctx, f, j.n, cp.Size, claim, opts.Entry, &scratch)
			}
		})
	}
	// On return, stop the producer first: workers only exit once it closes jobs.
	defer func() {
		cancel()
		wg.Wait()
	}()

	// The roots of the level-0 tiles are the leaves of the tree above
	// level 0: a Builder over them produces every tile of level 1 and up,
	// shifted down one level.
	upper, err := NewBuilder(ctx, 0, nil)
	if err != nil {
		return res, err
	}
	edge := edgeTiles{}
	var n, done uint64
	for out := range queue {
		r := <-out
		if r.err != nil {
			return res, r.err
		}
		width := uint64(TileWidth)
		if r.leaves != nil {
			width = uint64(len(r.leaves))
		}
		if r.refused {
			res.Refused += width
			res.RefusedEnd = n*TileWidth + width
		} else {
			res.Rehashed += width
		}
		if r.leaves != nil {
			// Only the last bundle can be partial; its leaves are the level-0 edge.
			edge[Tile{Index: n, Width: uint16(len(r.leaves))}] = r.leaves
		} else {
			upper.Append(r.root, func(t Tile, hs []Hash) {
				if err == nil {
					t.Level++
					err = compareTile(ctx, f, t, hs)
				}
			})
			if err != nil {
				return res, err
			}
		}
		done += width
		n++
		if opts.Progress != nil {
			opts.Progress(done)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	for t, hs := range upper.Edge() {
		t.Level++
		if err := compareTile(ctx, f, t, hs); err != nil {
			return res, err
		}
		edge[t] = hs
	}
	root, err := RootFromEdge(cp.Size, edge)
	if err != nil {
		return res, err
	}
	if root != cp.Hash {
		return res, fmt.Errorf("%w: the entries recompute root %s, but the checkpoint says %s", ErrTampered, root, cp.Hash)
	}
	return res, nil
}

// FetchPruned fetches the log's Pruned document (PrunedPath): the zero
// Pruned when it serves none.
func FetchPruned(ctx context.Context, f Fetcher) (Pruned, error) {
	raw, err := f.Fetch(ctx, PrunedPath)
	if errors.Is(err, ErrNotFound) {
		return Pruned{}, nil
	} else if err != nil {
		return Pruned{}, fmt.Errorf("couldn't fetch %s: %w", PrunedPath, err)
	}
	p, err := ParsePruned(raw)
	if err != nil {
		return Pruned{}, fmt.Errorf("the log's %s: %w", PrunedPath, err)
	}
	return p, nil
}

// bundleCheck is the outcome of checking one entry bundle against its level-0 tile.
type bundleCheck struct {
	root    Hash   // the tile's subtree root, for a full tile
	leaves  []Hash // the leaf hashes, for a partial tile only
	refused bool   // the bundle was refused as pruned: the hashes are the level-0 tile's
	err     error
}

// checkBundle recomputes the leaf hashes of bundle n and compares them with
// level-0 tile n. It hashes into scratch, the calling worker's buffer, so
// that a full bundle costs no allocations beyond its fetches. A bundle that
// the log refuses as pruned, as its claim allows, is passed over: its
// level-0 tile stands for it.
func checkBundle(ctx context.Context, f Fetcher, n, size uint64, claim Pruned, entry func(uint64, []byte), scratch *[TileWidth]Hash) bundleCheck {
	bt, _ := BundleFor(n, size)
	ht := bt
	ht.Entries = false
	raw, err := FetchTile(ctx, f, bt)
	var pe *PrunedError
	if errors.As(err, &pe) {
		if !claim.Refuses(bt) {
			return bundleCheck{err: fmt.Errorf("entry bundle %s is refused (%v), but the log's %s claims the minimum index %d: entries it says it keeps are gone",
				bt.Path(), err, PrunedPath, claim.MinimumIndex)}
		}
		return refusedBundle(ctx, f, ht, scratch)
	}
	if err != nil {
		return bundleCheck{err: fmt.Errorf("couldn't fetch entry bundle %s: %w", bt.Path(), err)}
	}
	entries, err := ParseEntryBundle(raw, bt.Width)
	if err != nil {
		return bundleCheck{err: fmt.Errorf("%w: entry bundle %s: %v", ErrTampered, bt.Path(), err)}
	}
	stored, err := FetchTile(ctx, f, ht)
	if err != nil {
		return bundleCheck{err: fmt.Errorf("couldn't fetch tile %s: %w", ht.Path(), err)}
	}
	if len(stored) != len(entries)*HashSize {
		return bundleCheck{err: fmt.Errorf("%w: tile %s has %d bytes, want %d", ErrTampered, ht.Path(), len(stored), len(entries)*HashSize)}
	}
	leaves := scratch[:len(entries)]
	for i, e := range entries {
		leaves[i] = LeafHash(e)
		if leaves[i] != Hash(stored[i*HashSize:(i+1)*HashSize]) {
			return bundleCheck{err: fmt.Errorf("%w: entry %d in bundle %s does not match hash %d of tile %s",
				ErrTampered, n*TileWidth+uint64(i), bt.Path(), i, ht.Path())}
		}
	}
	if entry != nil {
		for i, e := range entries {
			entry(n*TileWidth+uint64(i), e)
		}
	}
	if !bt.Full() {
		return bundleCheck{leaves: append([]Hash(nil), leaves...)}
	}
	return bundleCheck{root: subtreeRootInPlace(leaves)}
}

// refusedBundle is the check of a bundle refused as pruned: the hashes of
// its level-0 tile ht, which the tiles above it authenticate.
func refusedBundle(ctx context.Context, f Fetcher, ht Tile, scratch *[TileWidth]Hash) bundleCheck {
	hs, err := fetchHashTile(ctx, f, ht)
	if err != nil {
		return bundleCheck{err: err}
	}
	leaves := scratch[:copy(scratch[:], hs)]
	if !ht.Full() {
		return bundleCheck{leaves: append([]Hash(nil), leaves...), refused: true}
	}
	return bundleCheck{root: subtreeRootInPlace(leaves), refused: true}
}

// compareTile checks that the log serves tile t with exactly the hashes want.
func compareTile(ctx context.Context, f Fetcher, t Tile, want []Hash) error {
	got, err := fetchHashTile(ctx, f, t)
	if err != nil {
		return err
	}
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("%w: hash %d of tile %s does not match the tiles below it", ErrTampered, i, t.Path())
		}
	}
	return nil
}
