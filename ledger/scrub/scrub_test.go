package scrub_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/scrub"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

// TestPass fills a posix log with 600 entries, changes one byte of an
// entry in full bundle 1 and one hash in full level-0 tile 0, and checks
// that a pass finds exactly those (tile 0 takes its bundle with it, since
// the bundle can no longer be authenticated) and leaves the partial edge.
func TestPass(t *testing.T) {
	dir, s, l := posixLog(t, 600)
	st := l.Committed()
	for path, at := range map[string]int{"tile/entries/001": 10, "tile/0/000": 100} {
		p := filepath.Join(dir, path)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[at] ^= 1
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := scrub.New(scrub.Config{Tiles: s, Rate: 1e6,
		Tree: func() tiles.Checkpoint { return tiles.Checkpoint{Origin: l.Origin(), Size: st.Size, Hash: st.Root} }})
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tile    tiles.Tile
		corrupt bool
	}{
		{tiles.Tile{Index: 1, Width: 256, Entries: true}, true},
		{tiles.Tile{Index: 0, Width: 256}, true},
		{tiles.Tile{Index: 0, Width: 256, Entries: true}, true},
		{tiles.Tile{Index: 0, Width: 12, Entries: true}, true}, // every width of a corrupt bundle
		{tiles.Tile{Index: 1, Width: 256}, false},
		{tiles.Tile{Index: 2, Width: 88, Entries: true}, false},
		{tiles.Tile{Level: 1, Index: 0, Width: 3}, false},
	} {
		if err := sc.Check(c.tile); (err != nil) != c.corrupt || (err != nil && !errors.Is(err, tiles.ErrTampered)) {
			t.Errorf("Check(%s) = %v, want corrupt %v", c.tile.Path(), err, c.corrupt)
		}
	}
}

// TestPassPruned checks that a pass over a pruned log passes over the
// pruned bundles (their level-0 tiles still authenticate) and still finds
// a changed byte in a bundle that stays.
func TestPassPruned(t *testing.T) {
	dir, s, l := posixLog(t, 800)
	st := l.Committed()
	if err := s.Prune(t.Context(), tiles.Pruned{MinimumIndex: 512}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "tile/entries/002")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[10] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := scrub.New(scrub.Config{Tiles: s, Rate: 1e6,
		Tree: func() tiles.Checkpoint { return tiles.Checkpoint{Origin: l.Origin(), Size: st.Size, Hash: st.Root} }})
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Pass(t.Context()); err != nil {
		t.Fatalf("a pass over a pruned log: %v", err)
	}
	for _, c := range []struct {
		tile    tiles.Tile
		corrupt bool
	}{
		{tiles.Tile{Index: 0, Width: 256, Entries: true}, false},
		{tiles.Tile{Index: 0, Width: 256}, false},
		{tiles.Tile{Index: 2, Width: 256, Entries: true}, true},
	} {
		if err := sc.Check(c.tile); (err != nil) != c.corrupt {
			t.Errorf("Check(%s) = %v, want corrupt %v", c.tile.Path(), err, c.corrupt)
		}
	}
}

// posixLog opens a posix log in a temporary directory and appends n small
// entries to it through a ledger.
func posixLog(t *testing.T, n int) (string, *posix.Storage, *ledger.Ledger) {
	t.Helper()
	dir := t.TempDir()
	s, err := posix.Open(t.Context(), posix.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	signer, _ := storagetest.NewSigner(t, "example.com/scrub")
	l := storagetest.NewLedger(t, s, storagetest.NewMemoryKeys(), signer)
	var batch []ledger.Entry
	for i := range n {
		batch = append(batch, ledger.Entry{Leaf: []byte{'e', byte(i), byte(i >> 8)}})
	}
	if _, err := l.Append(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	return dir, s, l
}
