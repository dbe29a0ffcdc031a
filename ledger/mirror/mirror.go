// Package mirror copies a log to a blob store (a directory or a bucket),
// incrementally, and verifies everything it copies against a signed
// checkpoint before it publishes that checkpoint in the copy.
//
// A run reads the source's checkpoint and verifies it with the policy; it
// reads the mirror's checkpoint, if any (verified the same way), and checks
// that the source's tree is consistent with it. It then reads the source's
// entry bundles from the mirror's size on, hashes every entry, and grows
// the tree with those leaf hashes from the mirror's own right edge; each
// hash tile that this computes must equal, byte for byte, the source's,
// and the root at the end must be the source checkpoint's. Only then is the
// checkpoint written to the mirror, last, so the mirror is always a valid
// log at its checkpoint: a changed byte anywhere in the source (a bundle, a
// tile, the checkpoint) makes the run fail with ErrTampered and publish
// nothing.
//
// A run that is killed resumes where it stopped: every ProgressEvery
// bundles it records, in the object ProgressName of the mirror, how far the
// mirror's tiles reach (after writing the right edge at that size). A new
// run continues from there; the final root check covers the resumed part
// too, since the tree grows from the edge it left.
package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/tiles"
)

// ProgressName is the mirror's object recording an unfinished run.
const ProgressName = ".mirror-progress"

// ProgressEvery is how many bundles a run copies between two progress
// records.
const ProgressEvery = 64

// ErrTampered means the source serves data its signed checkpoint does not
// commit to: the mirror refuses it. It wraps tiles.ErrTampered.
var ErrTampered = fmt.Errorf("the source does not match its signed checkpoint: %w", tiles.ErrTampered)

// Config configures a run.
type Config struct {
	// Source serves the log (a URL, a directory, a bucket). Untrusted.
	// Required.
	Source tiles.Fetcher
	// Mirror is where the copy goes. Required.
	Mirror blob.Store
	// Policy verifies the source's checkpoint (and the mirror's). Required.
	Policy *tiles.Policy
	// Concurrency is how many objects are read or written at once.
	// Default 16.
	Concurrency int
	// Progress, if set, is called with the number of entries verified so
	// far and the target size.
	Progress func(done, total uint64)
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
	// CopyFrom, if set below the size of the mirror's checkpoint, makes
	// the run copy the entries from that size on again, rewriting their
	// bundles and tiles, as if the mirror's checkpoint were there: an
	// archive copies again what it could not verify when it read it back.
	// It must be the size of a checkpoint a run published in the mirror
	// (whose right edge the mirror holds). Nil: copy from the mirror's
	// checkpoint.
	CopyFrom *uint64
	// RetainUntil, if set, locks every tile, bundle and checkpoint the run
	// writes until then (blob.PutOptions.RetainUntil: S3 Object Lock in
	// compliance mode), as an archive's copy is. The progress record is
	// not locked: the run deletes it at the end.
	RetainUntil time.Time
}

// Result says what a run did.
type Result struct {
	// From is the mirror's size before the run, Resumed where the run
	// started copying (above From when it resumed a killed run, below it
	// with Config.CopyFrom), and To the size of the checkpoint it
	// published.
	From, Resumed, To uint64
}

// progress is the JSON of ProgressName.
type progress struct {
	Size uint64 `json:"size"` // the mirror's tiles hold the tree of this size
}

// Run mirrors the source once (see the package comment).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Source == nil || cfg.Mirror == nil || cfg.Policy == nil {
		return Result{}, errors.New("mirror: Config.Source, Mirror and Policy are required")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &run{Config: cfg, src: cfg.Source, dst: Fetcher(cfg.Mirror)}
	return r.run(ctx)
}

type run struct {
	Config
	src tiles.Fetcher
	dst tiles.Fetcher // the mirror, read back
}

func (r *run) run(ctx context.Context) (Result, error) {
	raw, err := r.src.Fetch(ctx, tiles.CheckpointPath)
	if err != nil {
		return Result{}, fmt.Errorf("couldn't read the source's checkpoint: %w", err)
	}
	target, err := r.Policy.Verify(raw)
	if err != nil {
		return Result{}, fmt.Errorf("the source's checkpoint: %w", err)
	}
	var res Result
	old, err := r.mirrorCheckpoint(ctx)
	if err != nil {
		return res, err
	}
	if old != nil {
		res.From = old.Size
		if err := r.checkConsistent(ctx, old, target); err != nil {
			return res, err
		}
	}
	res.Resumed, res.To = res.From, target.Size
	if r.CopyFrom != nil && *r.CopyFrom < res.From {
		res.Resumed = *r.CopyFrom
	}
	if target.Size == res.Resumed {
		return res, r.publish(ctx, target)
	}
	if res.Resumed, err = r.resumeFrom(ctx, res.Resumed, target.Size); err != nil {
		return res, err
	}
	b, err := tiles.NewBuilder(ctx, res.Resumed, tiles.HashTiles(rawTiles{r.dst}))
	if err != nil {
		return res, fmt.Errorf("couldn't read the mirror's right edge at size %d: %w", res.Resumed, err)
	}
	if err := r.copy(ctx, b, res.Resumed, target.Size); err != nil {
		return res, err
	}
	if root := b.Root(); root != target.Hash {
		return res, fmt.Errorf("%w: its entries hash to root %s at size %d, but the checkpoint says %s", ErrTampered, root, target.Size, target.Hash)
	}
	if err := r.writeEdge(ctx, b); err != nil {
		return res, err
	}
	// At this point every tile of the target tree is in the mirror and
	// verified: publishing the checkpoint makes the mirror that log.
	return res, r.publish(ctx, target)
}

// mirrorCheckpoint returns the mirror's verified checkpoint, nil if it has
// none yet.
func (r *run) mirrorCheckpoint(ctx context.Context) (*tiles.SignedCheckpoint, error) {
	raw, err := r.dst.Fetch(ctx, tiles.CheckpointPath)
	if errors.Is(err, tiles.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the mirror's checkpoint: %w", err)
	}
	sc, err := r.Policy.Verify(raw)
	if err != nil {
		return nil, fmt.Errorf("the mirror holds a checkpoint the policy does not verify (is it another log's?): %w", err)
	}
	return sc, nil
}

// checkConsistent checks that the source's tree extends the mirror's.
func (r *run) checkConsistent(ctx context.Context, old, target *tiles.SignedCheckpoint) error {
	if target.Size < old.Size {
		return fmt.Errorf("the source's checkpoint (size %d) is older than the mirror's (size %d): nothing to do from this source", target.Size, old.Size)
	}
	tree := tiles.NewTree(r.src, target.Checkpoint)
	proof, err := tree.ProveConsistency(ctx, old.Checkpoint)
	if err == nil {
		err = tiles.VerifyConsistency(old.Size, old.Hash, target.Size, target.Hash, proof)
	}
	if err != nil {
		return fmt.Errorf("%w: its tree of size %d is not consistent with the mirror's of size %d: %w", ErrTampered, target.Size, old.Size, err)
	}
	return nil
}

// resumeFrom returns the size to copy from: the progress record of a
// killed run, if it lies between from and to, else from.
func (r *run) resumeFrom(ctx context.Context, from, to uint64) (uint64, error) {
	b, err := r.Mirror.Get(ctx, ProgressName)
	if errors.Is(err, blob.ErrNotExist) {
		return from, nil
	}
	if err != nil {
		return 0, fmt.Errorf("couldn't read the mirror's progress record: %w", err)
	}
	var p progress
	if err := json.Unmarshal(b, &p); err != nil {
		r.Logger.Warn("ignoring a corrupt progress record", "object", ProgressName, "err", err)
		return from, nil
	}
	if p.Size <= from || p.Size > to || p.Size%tiles.TileWidth != 0 {
		return from, nil
	}
	r.Logger.Info("resuming a mirror run", "from", p.Size, "to", to)
	return p.Size, nil
}

// copy verifies and copies the bundles of [from, to) and the hash tiles
// they complete, ProgressEvery bundles at a time, growing b.
func (r *run) copy(ctx context.Context, b *tiles.Builder, from, to uint64) error {
	first, last := from/tiles.TileWidth, tiles.BundleCount(to)
	for seg := first; seg < last; seg += ProgressEvery {
		bundles, err := r.fetchBundles(ctx, seg, min(seg+ProgressEvery, last), to)
		if err != nil {
			return err
		}
		writes := map[tiles.Tile][]byte{}
		for _, fb := range bundles {
			if err := r.grow(ctx, b, fb, writes); err != nil {
				return err
			}
		}
		if err := r.write(ctx, writes); err != nil {
			return err
		}
		if b.Size() < to && b.Size()%tiles.TileWidth == 0 {
			if err := r.saveProgress(ctx, b); err != nil {
				return err
			}
		}
		if r.Progress != nil {
			r.Progress(b.Size(), to)
		}
	}
	return nil
}

// fetched is a source bundle and its level-0 tile, as fetched.
type fetched struct {
	bundle tiles.Tile
	data   []byte // the bundle's bytes
	tile   []byte // the level-0 hash tile's bytes (of the bundle's width)
}

// fetchBundles fetches bundles [from, to) of the tree of size entries and
// their level-0 tiles, in parallel.
func (r *run) fetchBundles(ctx context.Context, from, to, size uint64) ([]fetched, error) {
	out := make([]fetched, to-from)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(r.Concurrency)
	for i := range out {
		bt, _ := tiles.BundleFor(from+uint64(i), size)
		out[i].bundle = bt
		g.Go(func() (err error) {
			if out[i].data, err = tiles.FetchTile(ctx, r.src, bt); err != nil {
				return fmt.Errorf("couldn't read the source's %s: %w", bt.Path(), err)
			}
			return nil
		})
		g.Go(func() (err error) {
			ht := bt
			ht.Entries = false
			if out[i].tile, err = tiles.FetchTile(ctx, r.src, ht); err != nil {
				return fmt.Errorf("couldn't read the source's %s: %w", ht.Path(), err)
			}
			return nil
		})
	}
	return out, g.Wait()
}

// grow appends the new entries of a fetched bundle to b, checks each hash
// tile that completes against the source's, and adds the bundle and the
// tiles to writes.
func (r *run) grow(ctx context.Context, b *tiles.Builder, fb fetched, writes map[tiles.Tile][]byte) error {
	entries, err := tiles.ParseEntryBundle(fb.data, fb.bundle.Width)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrTampered, fb.bundle.Path(), err)
	}
	level0, err := tiles.ParseHashTile(fb.tile, fb.bundle.Width)
	if err != nil {
		return fmt.Errorf("%w: tile for %s: %v", ErrTampered, fb.bundle.Path(), err)
	}
	base := fb.bundle.Index * tiles.TileWidth
	var failed error
	for i, e := range entries {
		h := tiles.LeafHash(e)
		if h != level0[i] {
			return fmt.Errorf("%w: entry %d hashes to %s, but the source's level-0 tile says %s", ErrTampered, base+uint64(i), h, level0[i])
		}
		if base+uint64(i) < b.Size() {
			continue // in the mirror already: its hash is in the edge the tree grows from
		}
		b.Append(h, func(t tiles.Tile, hs []tiles.Hash) {
			computed := tiles.MarshalHashTile(hs)
			switch {
			case failed != nil:
			case t.Level == 0:
				// Its first hashes come from the mirror's edge when the run
				// started inside this bundle: equal to the source's, they
				// show that the source's earlier entries are the mirror's.
				if !bytes.Equal(computed, fb.tile) {
					failed = fmt.Errorf("%w: its %s differs from the tile its entries compute", ErrTampered, t.Path())
				}
			default:
				failed = r.compareTile(ctx, t, computed)
			}
			writes[t] = computed
		})
	}
	if failed != nil {
		return failed
	}
	writes[fb.bundle] = fb.data
	return nil
}

// compareTile checks that the source's tile t holds the computed bytes.
func (r *run) compareTile(ctx context.Context, t tiles.Tile, computed []byte) error {
	got, err := tiles.FetchTile(ctx, r.src, t)
	if err != nil {
		return fmt.Errorf("couldn't read the source's %s: %w", t.Path(), err)
	}
	if !bytes.Equal(got, computed) {
		return fmt.Errorf("%w: its %s differs from the tile its entries compute", ErrTampered, t.Path())
	}
	return nil
}

// writeEdge checks the source's partial tiles at the target size against
// the computed ones and writes them.
func (r *run) writeEdge(ctx context.Context, b *tiles.Builder) error {
	writes := map[tiles.Tile][]byte{}
	for t, hs := range b.Edge() {
		computed := tiles.MarshalHashTile(hs)
		if err := r.compareTile(ctx, t, computed); err != nil {
			return err
		}
		writes[t] = computed
	}
	return r.write(ctx, writes)
}

// saveProgress writes the right edge at b's size (its partial tiles above
// level 0; the size is a multiple of 256), then the progress record.
func (r *run) saveProgress(ctx context.Context, b *tiles.Builder) error {
	writes := map[tiles.Tile][]byte{}
	for t, hs := range b.Edge() {
		writes[t] = tiles.MarshalHashTile(hs)
	}
	if err := r.write(ctx, writes); err != nil {
		return err
	}
	p, _ := json.Marshal(progress{Size: b.Size()})
	if err := r.Mirror.Put(ctx, ProgressName, p, blob.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("couldn't record the mirror's progress: %w", err)
	}
	return nil
}

// write puts tiles and bundles in the mirror, in parallel.
func (r *run) write(ctx context.Context, writes map[tiles.Tile][]byte) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(r.Concurrency)
	for t, data := range writes {
		g.Go(func() error {
			if err := r.Mirror.Put(ctx, t.Path(), data, blob.PutOptions{ContentType: tiles.TileContentType, CacheControl: tiles.TileCacheControl, RetainUntil: r.RetainUntil}); err != nil {
				return fmt.Errorf("couldn't write the mirror's %s: %w", t.Path(), err)
			}
			return nil
		})
	}
	return g.Wait()
}

// publish writes the source's signed checkpoint note to the mirror, as
// received (cosignatures included), and drops the progress record.
func (r *run) publish(ctx context.Context, target *tiles.SignedCheckpoint) error {
	if err := r.Mirror.Put(ctx, tiles.CheckpointPath, target.Note,
		blob.PutOptions{ContentType: tiles.CheckpointContentType, CacheControl: tiles.CheckpointCacheControl, RetainUntil: r.RetainUntil}); err != nil {
		return fmt.Errorf("couldn't publish the mirror's checkpoint: %w", err)
	}
	if err := r.Mirror.Delete(ctx, ProgressName); err != nil {
		return fmt.Errorf("couldn't drop the mirror's progress record: %w", err)
	}
	return nil
}

// Fetcher reads a log kept in a blob store (a mirror, a bucket the
// object-storage driver writes), for the verifying client or as the
// Source of a run.
func Fetcher(s blob.Store) tiles.Fetcher { return storeFetcher{s} }

type storeFetcher struct{ s blob.Store }

func (m storeFetcher) Fetch(ctx context.Context, path string) ([]byte, error) {
	b, err := m.s.Get(ctx, path)
	if errors.Is(err, blob.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, tiles.ErrNotFound)
	}
	return b, err
}

// rawTiles reads tiles through a Fetcher, for tiles.HashTiles.
type rawTiles struct{ f tiles.Fetcher }

func (r rawTiles) ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error) {
	return tiles.FetchTile(ctx, r.f, t)
}
