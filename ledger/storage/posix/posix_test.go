package posix_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Opener {
		dir := t.TempDir()
		return func(t *testing.T) ledger.Storage {
			s, err := posix.Open(t.Context(), posix.Config{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

func TestOneWriter(t *testing.T) {
	if _, err := posix.Open(t.Context(), posix.Config{}); err == nil {
		t.Fatal("Open without a directory succeeded")
	}
	dir := t.TempDir()
	s, err := posix.Open(t.Context(), posix.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := posix.Open(t.Context(), posix.Config{Dir: dir}); err == nil {
		t.Fatal("a second writer opened a locked log directory")
	}
	s.Close()
	s, err = posix.Open(t.Context(), posix.Config{Dir: dir})
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	s.Close()
}

// TestStaticLayout checks that the directory is the tlog-tiles read API:
// a DirFetcher over it audits the log.
func TestStaticLayout(t *testing.T) {
	dir := t.TempDir()
	vkey := fill70000(t, dir, "example.com/posix")
	for _, p := range []string{"checkpoint", "tile/0/272", "tile/0/273.p/112",
		"tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1", "tile/entries/272", "tile/entries/273.p/112"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	cp, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := tiles.NewLogPolicy(vkey)
	sc, err := policy.Verify(cp)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Size != 70000 {
		t.Fatalf("published size %d, want 70000", sc.Size)
	}
	if err := tiles.Audit(t.Context(), tiles.DirFetcher(dir), sc.Checkpoint, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit of the directory: %v", err)
	}
	// A flipped bit in a full tile above level 0 is caught.
	path := filepath.Join(dir, "tile/1/000")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[4000] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tiles.Audit(t.Context(), tiles.DirFetcher(dir), sc.Checkpoint, tiles.AuditOptions{}); !errors.Is(err, tiles.ErrTampered) {
		t.Fatalf("audit of a tampered tile/1/000: %v, want ErrTampered", err)
	}
}

// TestLeftoversRemoved writes the files a flush that died before its commit
// point could leave (wider partials of the right-edge tiles, the full tile
// they would become, tiles after them, a level the tree has not reached)
// into a log of 70000 entries, and checks that Open removes exactly those,
// keeping every committed file, and that the log still audits.
func TestLeftoversRemoved(t *testing.T) {
	dir := t.TempDir()
	vkey := fill70000(t, dir, "example.com/leftovers")
	var committed []string
	filepath.WalkDir(filepath.Join(dir, "tile"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			committed = append(committed, p)
		}
		return err
	})
	leftovers := []string{"tile/0/273.p/113", "tile/0/273.p/200", "tile/0/273", "tile/0/274.p/3", "tile/0/275",
		"tile/entries/273.p/255", "tile/entries/273", "tile/entries/274.p/1", "tile/1/001.p/18", "tile/1/002.p/1",
		"tile/2/000.p/2", "tile/3/000.p/1"}
	for _, p := range leftovers {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("entries nobody was told about"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := posix.Open(t.Context(), posix.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range leftovers {
		if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("leftover %s is still there: %v", p, err)
		}
	}
	for _, p := range committed {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("committed %s was removed: %v", p, err)
		}
	}
	cp, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
	policy, _ := tiles.NewLogPolicy(vkey)
	sc, err := policy.Verify(cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := tiles.Audit(t.Context(), tiles.DirFetcher(dir), sc.Checkpoint, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit after removing the leftovers: %v", err)
	}
}

// fill70000 appends 70000 entries to a posix log in dir, closes it and
// returns its vkey: the tlog-tiles example, with full and partial tiles on
// three levels.
func fill70000(t *testing.T, dir, origin string) string {
	t.Helper()
	s, err := posix.Open(t.Context(), posix.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	signer, vkey := storagetest.NewSigner(t, origin)
	l := storagetest.NewLedger(t, s, storagetest.NewMemoryKeys(), signer)
	var batch []ledger.Entry
	for i := range 70000 {
		batch = append(batch, ledger.Entry{Leaf: []byte{byte(i), byte(i >> 8), byte(i >> 16)}})
	}
	if _, err := l.Append(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return vkey
}

// TestPrunerContract runs the pruner contract; a torn prune is the
// directory's pruned.json written and no bundle deleted, which Open
// completes.
func TestPrunerContract(t *testing.T) {
	storagetest.RunPruner(t, func(t *testing.T) storagetest.PrunerStore {
		dir := t.TempDir()
		return storagetest.PrunerStore{
			Open: func(t *testing.T) ledger.Storage {
				s, err := posix.Open(t.Context(), posix.Config{Dir: dir})
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			Stored: func(t *testing.T, tl tiles.Tile) bool {
				_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(tl.Path())))
				return err == nil
			},
			Tear: func(t *testing.T, p tiles.Pruned) {
				b, _ := json.Marshal(p)
				if err := os.WriteFile(filepath.Join(dir, tiles.PrunedPath), b, 0o644); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}

// TestPruneResumed: a prune that died part way through its deletions
// (pruned.json recorded, the first bundles gone, the last still there) is
// completed by Open, and the bundles it refuses are refused meanwhile.
func TestPruneResumed(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := posix.Open(ctx, posix.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := storagetest.NewSigner(t, "example.com/prune")
	l := storagetest.NewLedger(t, s, storagetest.NewMemoryKeys(), signer)
	var batch []ledger.Entry
	for i := range 1000 {
		batch = append(batch, ledger.Entry{Leaf: []byte{'e', byte(i), byte(i >> 8)}})
	}
	if _, err := l.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	l.Close(ctx)
	s.Close()
	// What a kill during the deletions of a prune to 768 leaves.
	if err := os.WriteFile(filepath.Join(dir, tiles.PrunedPath), []byte(`{"minimum_index":768}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "tile/entries/000")); err != nil {
		t.Fatal(err)
	}
	s, err = posix.Open(ctx, posix.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, path := range []string{"tile/entries/001", "tile/entries/002"} {
		if _, err := os.Stat(filepath.Join(dir, path)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Open: %v, want it deleted", path, err)
		}
	}
	if _, err := s.ReadTile(ctx, tiles.Tile{Index: 2, Width: tiles.TileWidth, Entries: true}); !errors.Is(err, tiles.ErrPruned) {
		t.Errorf("bundle 2: %v, want pruned", err)
	}
	if _, err := s.ReadTile(ctx, tiles.Tile{Index: 3, Width: 1000 - 768, Entries: true}); err != nil {
		t.Errorf("bundle 3, which stays: %v", err)
	}
	if _, err := s.ReadTile(ctx, tiles.Tile{Index: 0, Width: tiles.TileWidth}); err != nil {
		t.Errorf("hash tile 0: %v", err)
	}
}
