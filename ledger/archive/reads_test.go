package archive_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ledger-dev/ledger/ledger/archive"
	"github.com/ledger-dev/ledger/tiles"
)

// prunedStore is a real log's storage that refuses the bundles a log
// pruned to minimum index 512 refuses, as the storage drivers do once
// they have removed them.
type prunedStore struct {
	archive.TileReader
	pruned tiles.Pruned
}

func (p prunedStore) ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error) {
	if p.pruned.Refuses(t) {
		return nil, &tiles.PrunedError{Path: t.Path(), Pruned: p.pruned}
	}
	return p.TileReader.ReadTile(ctx, t)
}

// TestPrunedReads reads a pruned log through PrunedReads: the bundles it
// refuses come from the archive, checked against the log's hash tiles; the
// rest from the log.
func TestPrunedReads(t *testing.T) {
	g := newLog(t)
	dir := newDir(t)
	g.grow(600)
	if _, err := g.run(t, dir); err != nil {
		t.Fatal(err)
	}
	hot := prunedStore{TileReader: g.store, pruned: tiles.Pruned{MinimumIndex: 512, Archive: &tiles.Archive{Location: "file:///archive", Size: 600}}}
	r := archive.PrunedReads(hot, dir)
	for _, tl := range []tiles.Tile{{Entries: true, Index: 0, Width: 256}, {Entries: true, Index: 1, Width: 256}, {Entries: true, Index: 2, Width: 88},
		{Index: 0, Width: 256}, {Level: 1, Index: 0, Width: 2}} {
		want, err := g.store.ReadTile(t.Context(), tl)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadTile(t.Context(), tl)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, %v; want the log's %d bytes", tl.Path(), len(got), err, len(want))
		}
	}
	if _, err := hot.ReadTile(t.Context(), tiles.Tile{Entries: true, Index: 1, Width: 256}); !errors.Is(err, tiles.ErrPruned) {
		t.Fatalf("the pruned store serves bundle 1: %v", err)
	}

	path := filepath.Join(dir.Root(), "tile", "entries", "001")
	orig, _ := os.ReadFile(path)
	changed := bytes.Replace(orig, []byte("archived entry 300"), []byte("archived entry 999"), 1)
	os.WriteFile(path, changed, 0o644)
	if _, err := r.ReadTile(t.Context(), tiles.Tile{Entries: true, Index: 1, Width: 256}); !errors.Is(err, tiles.ErrTampered) {
		t.Fatalf("a changed archived bundle: %v, want ErrTampered", err)
	}
	os.Remove(path)
	if _, err := r.ReadTile(t.Context(), tiles.Tile{Entries: true, Index: 1, Width: 256}); !errors.Is(err, tiles.ErrPruned) {
		t.Fatalf("a bundle missing from the archive: %v, want the log's pruned error", err)
	}
}
