package storagetest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// PrunerStore is a store under the pruner contract (ledger.Pruner).
type PrunerStore struct {
	// Open opens it (see Opener); the storage must implement ledger.Pruner.
	Open Opener
	// Stored reports whether the bytes of tile tl are still kept, read
	// past the driver (a file, a row, an object).
	Stored func(t *testing.T, tl tiles.Tile) bool
	// Tear leaves the closed store as a process that died in the middle
	// of Prune(p) would: p recorded and none of its bundles deleted, or,
	// for a driver that records and deletes in one transaction, neither.
	Tear func(t *testing.T, p tiles.Pruned)
}

// RunPruner runs the pruner contract suite. newStore returns a fresh,
// empty store.
func RunPruner(t *testing.T, newStore func(t *testing.T) PrunerStore) {
	t.Run("Prune", func(t *testing.T) { testPrune(t, newStore(t)) })
	t.Run("TornPrune", func(t *testing.T) { testTornPrune(t, newStore(t)) })
}

// prunerLog commits 1000 entries in two flushes (the first leaves the
// partial bundle 1.p/44 behind) and returns the store and every tile and
// bundle committed.
func prunerLog(t *testing.T, ps PrunerStore) (ledger.Pruner, ledger.Storage, map[tiles.Tile][]byte) {
	ctx := t.Context()
	s := ps.Open(t)
	p, ok := s.(ledger.Pruner)
	if !ok {
		t.Fatalf("%T does not implement ledger.Pruner", s)
	}
	b, _ := tiles.NewBuilder(ctx, 0, nil)
	f1, bundle := flushOf(t, ledger.State{}, b, nil, entriesFrom(0, 300))
	f2, _ := flushOf(t, f1.New, b, bundle, entriesFrom(300, 700))
	all := map[tiles.Tile][]byte{}
	for _, f := range []*ledger.Flush{f1, f2} {
		if err := s.Commit(ctx, f); err != nil {
			t.Fatal(err)
		}
		for tl, data := range f.Tiles {
			all[tl] = data
		}
	}
	return p, s, all
}

// checkPruned checks that s answers pruned as recorded, refuses exactly
// the bundles it refuses (with a *tiles.PrunedError carrying it), serves
// every other tile as committed, and, if deleted, keeps none of the
// refused bundles' bytes.
func checkPruned(t *testing.T, ps PrunerStore, s ledger.Storage, want tiles.Pruned, all map[tiles.Tile][]byte, deleted bool) {
	t.Helper()
	ctx := t.Context()
	got, err := s.(ledger.Pruner).Pruned(ctx)
	if err != nil || got.MinimumIndex != want.MinimumIndex || (got.Archive == nil) != (want.Archive == nil) ||
		(got.Archive != nil && (got.Archive.Location != want.Archive.Location || !got.Archive.ArchivedAt.Equal(want.Archive.ArchivedAt))) {
		t.Fatalf("Pruned() = %+v, %v; want %+v", got, err, want)
	}
	for tl, data := range all {
		b, err := s.ReadTile(ctx, tl)
		if !want.Refuses(tl) {
			if err != nil || !bytes.Equal(b, data) {
				t.Fatalf("ReadTile(%s), which stays: %v, content equal %v", tl.Path(), err, bytes.Equal(b, data))
			}
			continue
		}
		var pe *tiles.PrunedError
		if !errors.As(err, &pe) || !errors.Is(err, tiles.ErrPruned) || pe.Pruned.MinimumIndex != want.MinimumIndex || pe.Path != tl.Path() {
			t.Fatalf("ReadTile(%s), which is pruned: %v, want a *tiles.PrunedError at minimum index %d", tl.Path(), err, want.MinimumIndex)
		}
		if deleted && ps.Stored(t, tl) {
			t.Fatalf("pruned bundle %s is still stored", tl.Path())
		}
	}
}

func testPrune(t *testing.T, ps PrunerStore) {
	ctx := t.Context()
	p, s, all := prunerLog(t, ps)
	checkPruned(t, ps, s, tiles.Pruned{}, all, false)
	for _, bad := range []uint64{100, 1024} { // not a multiple of 256; beyond the size
		if err := p.Prune(ctx, tiles.Pruned{MinimumIndex: bad}); !errors.Is(err, ledger.ErrPrune) {
			t.Fatalf("Prune(%d): %v, want ledger.ErrPrune", bad, err)
		}
	}
	checkPruned(t, ps, s, tiles.Pruned{}, all, false)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := tiles.Pruned{MinimumIndex: 512, Archive: &tiles.Archive{Location: "file:///archive", Size: 900, ArchivedAt: at}}
	if err := p.Prune(ctx, want); err != nil {
		t.Fatalf("Prune(512): %v", err)
	}
	checkPruned(t, ps, s, want, all, true)
	if err := p.Prune(ctx, tiles.Pruned{MinimumIndex: 256}); !errors.Is(err, ledger.ErrPrune) {
		t.Fatalf("Prune(256) after 512: %v, want ledger.ErrPrune", err)
	}
	if err := p.Prune(ctx, want); err != nil {
		t.Fatalf("Prune(512) again: %v", err)
	}
	// The log goes on growing on the right.
	st, _ := s.State(ctx)
	b, err := tiles.NewBuilder(ctx, st.Size, tiles.HashTiles(s))
	if err != nil {
		t.Fatal(err)
	}
	last := all[tiles.Tile{Index: 3, Width: 1000 - 768, Entries: true}]
	f, _ := flushOf(t, st, b, last, entriesFrom(1000, 100))
	if err := s.Commit(ctx, f); err != nil {
		t.Fatalf("commit after a prune: %v", err)
	}
	for tl, data := range f.Tiles {
		all[tl] = data
	}
	closeStore(t, s)
	s = ps.Open(t) // restart
	defer closeStore(t, s)
	checkPruned(t, ps, s, want, all, true)
}

func testTornPrune(t *testing.T, ps PrunerStore) {
	ctx := t.Context()
	p, s, all := prunerLog(t, ps)
	first := tiles.Pruned{MinimumIndex: 256}
	if err := p.Prune(ctx, first); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
	torn := tiles.Pruned{MinimumIndex: 768}
	ps.Tear(t, torn)
	s = ps.Open(t)
	defer closeStore(t, s)
	// Either the prune is recorded, and its bundles are refused whether
	// deleted or not, or it never happened.
	got, err := s.(ledger.Pruner).Pruned(ctx)
	switch {
	case err != nil:
		t.Fatal(err)
	case got.MinimumIndex == torn.MinimumIndex:
		checkPruned(t, ps, s, torn, all, false)
	default:
		checkPruned(t, ps, s, first, all, true)
	}
	// A driver that completes a torn prune at start on request (the bucket
	// driver's Resume, which serve calls) leaves nothing refused stored.
	if r, ok := s.(interface{ Resume(context.Context) error }); ok && got.MinimumIndex == torn.MinimumIndex {
		if err := r.Resume(ctx); err != nil {
			t.Fatalf("Resume after a torn prune: %v", err)
		}
		checkPruned(t, ps, s, torn, all, true)
	}
	// The next Prune completes it.
	if err := s.(ledger.Pruner).Prune(ctx, torn); err != nil {
		t.Fatalf("Prune after a torn one: %v", err)
	}
	checkPruned(t, ps, s, torn, all, true)
}

// BenchPrune measures Prune of a log of n entries (BenchLeaf entries,
// committed 16 bundles a flush) down to its last partial bundle: every
// full bundle goes. open returns a fresh, empty store each time; size, if
// set, returns the bytes the store takes, reported before and after the
// prune. Each iteration fills a new store, untimed: run it with
// -benchtime=1x.
func BenchPrune(b *testing.B, n int, open func(b *testing.B) ledger.Storage, size func(b *testing.B, s ledger.Storage) int64) {
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	for range b.N {
		b.StopTimer()
		s := open(b)
		bld, _ := tiles.NewBuilder(ctx, 0, nil)
		st, bundle := ledger.State{}, []byte(nil)
		for i := 0; i < n; {
			var entries [][]byte
			for ; i < n && len(entries) < 16*tiles.TileWidth; i++ {
				entries = append(entries, BenchLeaf(rng, i))
			}
			var f *ledger.Flush
			f, bundle = flushOf(b, st, bld, bundle, entries)
			if err := s.Commit(ctx, f); err != nil {
				b.Fatal(err)
			}
			st = f.New
		}
		if size != nil {
			b.ReportMetric(float64(size(b, s))/(1<<20), "MiB-before")
		}
		m := uint64(n) / tiles.TileWidth * tiles.TileWidth
		b.StartTimer()
		if err := s.(ledger.Pruner).Prune(ctx, tiles.Pruned{MinimumIndex: m}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if size != nil {
			b.ReportMetric(float64(size(b, s))/(1<<20), "MiB-after")
		}
		b.ReportMetric(float64(m), "entries-pruned")
		closeStore(b, s)
		b.StartTimer()
	}
}
