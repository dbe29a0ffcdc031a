package tiles_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
	"github.com/ledger-dev/ledger/tiles/tilestest"
)

// dirTiles reads a log's stored tiles from its directory: a RawTileReader
// like a posix log's own storage.
type dirTiles struct{ dir tiles.DirFetcher }

func (d dirTiles) ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error) {
	return d.dir.Fetch(ctx, t.Path())
}

// storedLog writes a log of size synthetic entries to a new directory.
func storedLog(t *testing.T, size uint64) (dir string, l *tilestest.Log) {
	t.Helper()
	dir = t.TempDir()
	s, _ := tilestest.NewKey("example.com/stored")
	l = tilestest.New(dir, s)
	if _, err := l.AppendFunc(size, tilestest.Entry); err != nil {
		t.Fatal(err)
	}
	return dir, l
}

func TestHashTiles(t *testing.T) {
	const size = 300
	dir, l := storedLog(t, size)
	r := tiles.HashTiles(dirTiles{tiles.DirFetcher(dir)})
	b, err := tiles.NewBuilder(t.Context(), size, r)
	if err != nil {
		t.Fatalf("NewBuilder: %v", err)
	}
	if b.Root() != l.Root() {
		t.Errorf("builder over the stored tiles has root %s, want %s", b.Root(), l.Root())
	}
	for _, index := range []uint64{0, 255, 256, size - 1} {
		p, err := tiles.InclusionProof(t.Context(), r, index, size)
		if err != nil {
			t.Fatalf("InclusionProof(%d): %v", index, err)
		}
		if err := tiles.VerifyInclusion(l.LeafHash(index), index, size, p, l.Root()); err != nil {
			t.Errorf("proof of %d: %v", index, err)
		}
	}
}

func TestReadEntryBundle(t *testing.T) {
	const size = 300
	dir, _ := storedLog(t, size)
	r := dirTiles{tiles.DirFetcher(dir)}
	for n := range tiles.BundleCount(size) {
		bt, _ := tiles.BundleFor(n, size)
		entries, err := tiles.ReadEntryBundle(t.Context(), r, bt)
		if err != nil {
			t.Fatalf("ReadEntryBundle(%s): %v", bt.Path(), err)
		}
		if len(entries) != int(bt.Width) {
			t.Fatalf("bundle %s has %d entries, want %d", bt.Path(), len(entries), bt.Width)
		}
		for i, e := range entries {
			if index := n*tiles.TileWidth + uint64(i); string(e) != string(tilestest.Entry(index)) {
				t.Errorf("entry %d is %q, want %q", index, e, tilestest.Entry(index))
			}
		}
	}
}

func TestStoredErrors(t *testing.T) {
	dir, _ := storedLog(t, 300)
	r := dirTiles{tiles.DirFetcher(dir)}
	ctx := t.Context()
	missing := tiles.Tile{Index: 7, Width: tiles.TileWidth}
	if _, err := tiles.HashTiles(r).ReadTile(ctx, missing); !errors.Is(err, tiles.ErrNotFound) {
		t.Errorf("missing tile: %v, want an error wrapping ErrNotFound", err)
	}
	missing.Entries = true
	if _, err := tiles.ReadEntryBundle(ctx, r, missing); !errors.Is(err, tiles.ErrNotFound) {
		t.Errorf("missing bundle: %v, want an error wrapping ErrNotFound", err)
	}
	// Stored bytes that do not decode: errors naming the tile.
	tile := tiles.Tile{Index: 0, Width: tiles.TileWidth}
	bundle := tiles.Tile{Index: 0, Width: tiles.TileWidth, Entries: true}
	for _, tl := range []tiles.Tile{tile, bundle} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(tl.Path())), []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tiles.HashTiles(r).ReadTile(ctx, tile); err == nil || !strings.Contains(err.Error(), tile.Path()) {
		t.Errorf("corrupt tile: %v, want an error naming %s", err, tile.Path())
	}
	if _, err := tiles.ReadEntryBundle(ctx, r, bundle); err == nil || !strings.Contains(err.Error(), bundle.Path()) {
		t.Errorf("corrupt bundle: %v, want an error naming %s", err, bundle.Path())
	}
}
