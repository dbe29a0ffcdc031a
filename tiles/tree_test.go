package tiles_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
	"golang.org/x/mod/sumdb/note"
)

// treeLog is a log built from first principles for the Tree tests: its
// entries, reference tree and signing key.
type treeLog struct {
	origin  string
	entries [][]byte
	ref     *refTree
	signer  note.Signer
	vkey    string
}

func newTreeLog(t testing.TB, n int) *treeLog {
	t.Helper()
	l := newPolicyLog(t, "example.com/treelog")
	entries := testEntries(n)
	return &treeLog{origin: l.origin, entries: entries, ref: newRefTreeOf(entries), signer: l.signer, vkey: l.vkey}
}

// checkpoint returns the (unsigned) checkpoint of the tree of size leaves.
func (l *treeLog) checkpoint(size uint64) tiles.Checkpoint {
	return tiles.Checkpoint{Origin: l.origin, Size: size, Hash: l.ref.root(size)}
}

// signed returns the signed checkpoint note of the tree of size leaves.
func (l *treeLog) signed(t testing.TB, size uint64) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: string(l.checkpoint(size).Marshal())}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// bundle encodes entries [first, first+n) as an entry bundle.
func (l *treeLog) bundle(first, n uint64) []byte {
	var b []byte
	for _, e := range l.entries[first : first+n] {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b
}

// files returns what the tlog-tiles read API serves after the log published
// a checkpoint at each of sizes, the last being the current checkpoint:
// every full tile and bundle, and the partial tiles and bundles of every
// published size.
func (l *treeLog) files(t testing.TB, sizes ...uint64) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, size := range sizes {
		for tl, hs := range l.ref.tilesOf(size) {
			var b []byte
			for _, h := range hs {
				b = append(b, h[:]...)
			}
			out[tl.Path()] = b
			if tl.Level == 0 {
				bt := tl
				bt.Entries = true
				out[bt.Path()] = l.bundle(tl.Index*256, uint64(tl.Width))
			}
		}
		out["checkpoint"] = l.signed(t, size)
	}
	return out
}

// writeFiles writes files below dir.
func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		name := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// treeFiles is an in-memory Fetcher.
type treeFiles map[string][]byte

func (m treeFiles) Fetch(_ context.Context, path string) ([]byte, error) {
	b, ok := m[path]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, tiles.ErrNotFound)
	}
	return bytes.Clone(b), nil
}

// overrideFetcher serves one path from override and the rest from base.
type overrideFetcher struct {
	base tiles.Fetcher
	path string
	data []byte
}

func (o overrideFetcher) Fetch(ctx context.Context, path string) ([]byte, error) {
	if path == o.path {
		return bytes.Clone(o.data), nil
	}
	return o.base.Fetch(ctx, path)
}

// recordingFetcher records every path requested from f, found or not.
type recordingFetcher struct {
	f     tiles.Fetcher
	mu    sync.Mutex
	paths []string
}

func (r *recordingFetcher) Fetch(ctx context.Context, path string) ([]byte, error) {
	r.mu.Lock()
	r.paths = append(r.paths, path)
	r.mu.Unlock()
	return r.f.Fetch(ctx, path)
}

// checkPathsInTree fails for any requested path that is not a hash tile or
// entry bundle of the tree of size leaves, except for a full tile requested
// right after its partial tile (which must be in the tree) was not found.
// It also fails if a hash tile was fetched twice: Tree keeps what it has
// authenticated.
func checkPathsInTree(t *testing.T, paths []string, size uint64, missing map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for i, p := range paths {
		tl, err := tiles.ParsePath(p)
		if err != nil {
			t.Errorf("size %d: requested %q: %v", size, p, err)
			continue
		}
		inTree := refTileOK(tl, size)
		if tl.Entries {
			bt, ok := tiles.BundleFor(tl.Index, size)
			inTree = ok && bt == tl
		}
		if !inTree {
			prev := ""
			if i > 0 {
				prev = paths[i-1]
			}
			pt, err := tiles.ParsePath(prev)
			fallback := err == nil && missing[prev] && tl.Full() && !pt.Full() && pt.Index == tl.Index && pt.Level == tl.Level && pt.Entries == tl.Entries
			if !fallback {
				t.Errorf("size %d: requested %s, which is not in the tree", size, p)
			}
		}
		if !tl.Entries && seen[p] {
			t.Errorf("size %d: hash tile %s fetched twice", size, p)
		}
		seen[p] = true
	}
}

// treeRequests exercises every read of a Tree at one index and checks the
// results against the reference tree.
func treeRequests(t *testing.T, ctx context.Context, l *treeLog, tree *tiles.Tree, i uint64) {
	t.Helper()
	size := tree.Checkpoint().Size
	e, err := tree.Entry(ctx, i)
	if err != nil {
		t.Fatalf("size %d: Entry(%d): %v", size, i, err)
	}
	if !bytes.Equal(e, l.entries[i]) {
		t.Errorf("size %d: Entry(%d) = %q, want %q", size, i, e, l.entries[i])
	}
	h, err := tree.LeafHash(ctx, i)
	if err != nil || h != l.ref.leaf(i) {
		t.Errorf("size %d: LeafHash(%d) = %s, %v; want %s", size, i, h, err, l.ref.leaf(i))
	}
	p, err := tree.InclusionProof(ctx, i, l.ref.leaf(i))
	if err != nil {
		t.Fatalf("size %d: InclusionProof(%d): %v", size, i, err)
	}
	if want := l.ref.inclusion(i, size); !slices.Equal(p, want) {
		t.Errorf("size %d: InclusionProof(%d) = %v, want %v", size, i, b64s(p), b64s(want))
	}
	b, err := tree.Bundle(ctx, i/256)
	if err != nil || len(b) != int(min(256, size-i/256*256)) || !bytes.Equal(b[i%256], l.entries[i]) {
		t.Errorf("size %d: Bundle(%d) = %d entries, %v", size, i/256, len(b), err)
	}
}

// TestTreeDir reads a log of 70000 entries from a directory, through Trees
// bound to each of its published checkpoints.
func TestTreeDir(t *testing.T) {
	ctx := context.Background()
	l := newTreeLog(t, 70000)
	published := []uint64{1, 255, 300, 65536, 66000, 70000}
	dir := t.TempDir()
	writeFiles(t, dir, l.files(t, published...))
	f, err := tiles.NewFetcher(dir)
	if err != nil {
		t.Fatal(err)
	}

	// The current checkpoint verifies and opens the tree.
	raw, err := f.Fetch(ctx, "checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	sc, _, err := tiles.OpenCheckpoint(raw, mustVerifier(t, l.vkey))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Size != 70000 || sc.Hash != l.ref.root(70000) {
		t.Fatalf("checkpoint = %+v", sc.Checkpoint)
	}

	for _, size := range published {
		rec := &recordingFetcher{f: f}
		tree := tiles.NewTree(rec, l.checkpoint(size))
		if !reflect.DeepEqual(tree.Checkpoint(), l.checkpoint(size)) {
			t.Errorf("Checkpoint() = %+v", tree.Checkpoint())
		}
		for _, i := range []uint64{0, 1, 254, 255, 256, 299, 65535, 65536, 65791, 65792, 69887, 69888, 69999} {
			if i < size {
				treeRequests(t, ctx, l, tree, i)
			}
		}
		olds := []uint64{0}
		for _, old := range published {
			if old <= size {
				olds = append(olds, old)
			}
		}
		for _, old := range olds {
			p, err := tree.ProveConsistency(ctx, l.checkpoint(old))
			if err != nil {
				t.Fatalf("size %d: ProveConsistency(%d): %v", size, old, err)
			}
			if want := l.ref.consistency(old, size); !slices.Equal(p, want) {
				t.Errorf("size %d: ProveConsistency(%d) = %v, want %v", size, old, b64s(p), b64s(want))
			}
		}
		checkPathsInTree(t, rec.paths, size, nil)
	}
}

func TestTreeRejects(t *testing.T) {
	ctx := context.Background()
	l := newTreeLog(t, 600)
	rec := &recordingFetcher{f: treeFiles(l.files(t, 300, 600))}
	tree := tiles.NewTree(rec, l.checkpoint(300))
	if _, err := tree.Entry(ctx, 300); err == nil {
		t.Error("Entry(300) of a tree of 300 succeeded")
	}
	if _, err := tree.LeafHash(ctx, 300); err == nil {
		t.Error("LeafHash(300) of a tree of 300 succeeded")
	}
	if _, err := tree.Bundle(ctx, 2); err == nil {
		t.Error("Bundle(2) of a tree of 300 succeeded")
	}
	for _, tl := range []tiles.Tile{
		{Level: 0, Index: 1, Width: 256}, // full in the bigger tree only
		{Level: 0, Index: 1, Width: 43},  // a wrong width
		{Level: 0, Index: 1, Width: 45},  // ditto
		{Level: 0, Index: 2, Width: 88},  // beyond the tree
		{Level: 1, Index: 0, Width: 2},   // the bigger tree's
		{Level: 2, Index: 0, Width: 1},   // no such level
		{Level: 0, Index: 0, Width: 256, Entries: true},
	} {
		if _, err := tree.ReadTile(ctx, tl); err == nil {
			t.Errorf("ReadTile(%s) succeeded", tl.Path())
		}
	}
	if len(rec.paths) != 0 {
		t.Errorf("rejected requests fetched %v", rec.paths)
	}
	for _, i := range []uint64{0, 299} {
		if _, err := tree.InclusionProof(ctx, i, l.ref.leaf(i+1)); !errors.Is(err, tiles.ErrProof) {
			t.Errorf("InclusionProof(%d) with the wrong leaf: %v, want ErrProof", i, err)
		}
	}
	if _, err := tree.InclusionProof(ctx, 300, l.ref.leaf(0)); err == nil {
		t.Error("InclusionProof(300) of a tree of 300 succeeded")
	}
	other := l.checkpoint(100)
	other.Origin = "example.com/other"
	if _, err := tree.ProveConsistency(ctx, other); err == nil {
		t.Error("ProveConsistency from another log succeeded")
	}
	if _, err := tree.ProveConsistency(ctx, l.checkpoint(301)); !errors.Is(err, tiles.ErrProof) {
		t.Errorf("ProveConsistency from a bigger tree: %v, want ErrProof", err)
	}
	forked := l.checkpoint(100)
	forked.Hash = l.ref.root(99)
	if _, err := tree.ProveConsistency(ctx, forked); !errors.Is(err, tiles.ErrProof) {
		t.Errorf("ProveConsistency from a forked tree: %v, want ErrProof", err)
	}
	forked = l.checkpoint(300)
	forked.Hash = l.ref.root(299)
	if _, err := tree.ProveConsistency(ctx, forked); !errors.Is(err, tiles.ErrProof) {
		t.Errorf("ProveConsistency from a forked tree of the same size: %v, want ErrProof", err)
	}
	forked = l.checkpoint(0)
	forked.Hash = l.ref.root(1)
	if _, err := tree.ProveConsistency(ctx, forked); !errors.Is(err, tiles.ErrProof) {
		t.Errorf("ProveConsistency from a non-empty size 0: %v, want ErrProof", err)
	}

	// A Tree whose checkpoint the tiles do not match finds out.
	bad := l.checkpoint(300)
	bad.Hash = l.ref.root(299)
	if _, err := tiles.NewTree(rec, bad).Entry(ctx, 5); !errors.Is(err, tiles.ErrTampered) {
		t.Errorf("Entry from tiles that do not match the checkpoint: %v, want ErrTampered", err)
	}

	// An empty tree has nothing to read, but is consistent with itself.
	empty := tiles.NewTree(rec, l.checkpoint(0))
	if _, err := empty.Entry(ctx, 0); err == nil {
		t.Error("Entry(0) of the empty tree succeeded")
	}
	if p, err := empty.ProveConsistency(ctx, l.checkpoint(0)); err != nil || len(p) != 0 {
		t.Errorf("ProveConsistency(0 → 0) = %v, %v", p, err)
	}
}

// TestTreeTamper changes each tile and bundle a request reads, one byte at
// a time, and checks that the Tree notices.
func TestTreeTamper(t *testing.T) {
	ctx := context.Background()
	l := newTreeLog(t, 600)
	files := treeFiles(l.files(t, 300, 600))
	const size = 600
	requests := map[string]func(*tiles.Tree) error{
		"Entry(5)":      func(tr *tiles.Tree) error { _, err := tr.Entry(ctx, 5); return err },
		"Entry(599)":    func(tr *tiles.Tree) error { _, err := tr.Entry(ctx, 599); return err },
		"LeafHash(300)": func(tr *tiles.Tree) error { _, err := tr.LeafHash(ctx, 300); return err },
		"InclusionProof(0)": func(tr *tiles.Tree) error {
			_, err := tr.InclusionProof(ctx, 0, l.ref.leaf(0))
			return err
		},
		"InclusionProof(511)": func(tr *tiles.Tree) error {
			_, err := tr.InclusionProof(ctx, 511, l.ref.leaf(511))
			return err
		},
		"ProveConsistency(300)": func(tr *tiles.Tree) error {
			_, err := tr.ProveConsistency(ctx, l.checkpoint(300))
			return err
		},
		"ProveConsistency(1)": func(tr *tiles.Tree) error {
			_, err := tr.ProveConsistency(ctx, l.checkpoint(1))
			return err
		},
	}
	for name, req := range requests {
		rec := &recordingFetcher{f: files}
		if err := req(tiles.NewTree(rec, l.checkpoint(size))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkPathsInTree(t, rec.paths, size, nil)
		if len(rec.paths) < 2 {
			t.Fatalf("%s fetched only %v", name, rec.paths)
		}
		for _, p := range rec.paths {
			orig := files[p]
			var variants [][]byte
			if strings.HasPrefix(p, "tile/entries/") {
				for off := range orig {
					b := bytes.Clone(orig)
					b[off] ^= 1 << (off % 8)
					variants = append(variants, b)
				}
			} else {
				for j := 0; j*32 < len(orig); j++ {
					b := bytes.Clone(orig)
					b[j*32+(j*13)%32] ^= 0x80
					variants = append(variants, b)
				}
			}
			variants = append(variants, orig[:len(orig)-1], append(bytes.Clone(orig), 0), nil)
			if !strings.HasPrefix(p, "tile/entries/") {
				variants = append(variants, orig[:len(orig)-32], append(bytes.Clone(orig), make([]byte, 32)...))
			}
			for k, v := range variants {
				err := req(tiles.NewTree(overrideFetcher{base: files, path: p, data: v}, l.checkpoint(size)))
				if !errors.Is(err, tiles.ErrTampered) {
					t.Fatalf("%s: variant %d of %s (%d bytes): error %v, want ErrTampered", name, k, p, len(v), err)
				}
			}
		}
	}
}

// TestTreePartialFallback serves a tree whose partial tiles were deleted
// once the full tiles existed: Tree falls back to the full tiles.
func TestTreePartialFallback(t *testing.T) {
	ctx := context.Background()
	l := newTreeLog(t, 600)
	// The log grew to 600; only the level-1 tile of size 300 is still
	// there (no full tile can replace it), the rest of size 300's partial
	// tiles, tile/0/001.p/44 and tile/entries/001.p/44, are gone.
	files := treeFiles(l.files(t, 600))
	for p, b := range l.files(t, 300) {
		if p == "tile/1/000.p/1" {
			files[p] = b
		}
	}
	for _, p := range []string{"tile/0/001.p/44", "tile/entries/001.p/44"} {
		if _, ok := files[p]; ok {
			t.Fatalf("%s exists", p)
		}
	}
	missing := map[string]bool{"tile/0/001.p/44": true, "tile/entries/001.p/44": true}
	rec := &recordingFetcher{f: files}
	tree := tiles.NewTree(rec, l.checkpoint(300))
	for _, i := range []uint64{0, 255, 256, 299} {
		treeRequests(t, ctx, l, tree, i)
	}
	for _, old := range []uint64{0, 1, 100, 256, 299, 300} {
		p, err := tree.ProveConsistency(ctx, l.checkpoint(old))
		if err != nil || !slices.Equal(p, l.ref.consistency(old, 300)) {
			t.Errorf("ProveConsistency(%d): %v, %v", old, b64s(p), err)
		}
	}
	checkPathsInTree(t, rec.paths, 300, missing)
	for _, want := range []string{"tile/0/001.p/44", "tile/0/001", "tile/entries/001.p/44", "tile/entries/001"} {
		if !slices.Contains(rec.paths, want) {
			t.Errorf("Tree did not request %s; requested %v", want, rec.paths)
		}
	}

	// Beyond the first 44 hashes and entries the full tile and bundle are
	// not part of the tree of 300: changing them there changes nothing.
	for _, tc := range []struct {
		path string
		off  int
	}{{"tile/0/001", 44 * 32}, {"tile/0/001", 8191}, {"tile/entries/001", len(l.bundle(256, 44))}} {
		b := bytes.Clone(files[tc.path])
		b[tc.off] ^= 1
		if _, err := tiles.NewTree(overrideFetcher{files, tc.path, b}, l.checkpoint(300)).Entry(ctx, 299); err != nil {
			t.Errorf("changing byte %d of %s beyond the tree: %v", tc.off, tc.path, err)
		}
	}
	// Within them, it is tampering.
	for _, tc := range []struct {
		path string
		off  int
	}{{"tile/0/001", 0}, {"tile/0/001", 44*32 - 1}, {"tile/entries/001", len(l.bundle(256, 44)) - 1}} {
		b := bytes.Clone(files[tc.path])
		b[tc.off] ^= 1
		if _, err := tiles.NewTree(overrideFetcher{files, tc.path, b}, l.checkpoint(300)).Entry(ctx, 299); !errors.Is(err, tiles.ErrTampered) {
			t.Errorf("changing byte %d of %s: %v, want ErrTampered", tc.off, tc.path, err)
		}
	}
	// A full tile of the wrong length is no substitute.
	if _, err := tiles.NewTree(overrideFetcher{files, "tile/0/001", files["tile/0/001"][:8160]}, l.checkpoint(300)).Entry(ctx, 299); err == nil {
		t.Error("a short full tile stood in for the partial tile")
	}
	// With neither, the partial tile is reported missing.
	delete(files, "tile/0/001")
	_, err := tiles.NewTree(files, l.checkpoint(300)).LeafHash(ctx, 299)
	if !errors.Is(err, tiles.ErrNotFound) || !strings.Contains(err.Error(), "tile/0/001.p/44") {
		t.Errorf("LeafHash with neither tile: %v, want ErrNotFound for tile/0/001.p/44", err)
	}
}

func TestFetchTile(t *testing.T) {
	ctx := context.Background()
	l := newTreeLog(t, 600)
	files := treeFiles(l.files(t, 600))
	files["tile/0/002.p/5"] = []byte("partial tile as served")

	for _, tc := range []struct {
		tile  tiles.Tile
		want  []byte
		paths []string
	}{
		{tiles.Tile{Index: 2, Width: 5}, []byte("partial tile as served"), []string{"tile/0/002.p/5"}},
		{tiles.Tile{Index: 0, Width: 256}, files["tile/0/000"], []string{"tile/0/000"}},
		{tiles.Tile{Index: 1, Width: 44}, files["tile/0/001"][:44*32], []string{"tile/0/001.p/44", "tile/0/001"}},
		{tiles.Tile{Index: 1, Width: 1}, files["tile/0/001"][:32], []string{"tile/0/001.p/1", "tile/0/001"}},
		{tiles.Tile{Index: 1, Width: 255}, files["tile/0/001"][:255*32], []string{"tile/0/001.p/255", "tile/0/001"}},
		{tiles.Tile{Index: 1, Width: 44, Entries: true}, l.bundle(256, 44), []string{"tile/entries/001.p/44", "tile/entries/001"}},
		{tiles.Tile{Index: 1, Width: 255, Entries: true}, l.bundle(256, 255), []string{"tile/entries/001.p/255", "tile/entries/001"}},
	} {
		rec := &recordingFetcher{f: files}
		got, err := tiles.FetchTile(ctx, rec, tc.tile)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("FetchTile(%s) = %d bytes, %v; want %d bytes", tc.tile.Path(), len(got), err, len(tc.want))
		}
		if !slices.Equal(rec.paths, tc.paths) {
			t.Errorf("FetchTile(%s) requested %v, want %v", tc.tile.Path(), rec.paths, tc.paths)
		}
	}

	// No fallback for a missing full tile, nor for errors but not-found.
	rec := &recordingFetcher{f: files}
	if _, err := tiles.FetchTile(ctx, rec, tiles.Tile{Index: 3, Width: 256}); !errors.Is(err, tiles.ErrNotFound) || len(rec.paths) != 1 {
		t.Errorf("FetchTile(missing full tile): %v after %v", err, rec.paths)
	}
	sentinel := errors.New("connection reset")
	rec = &recordingFetcher{f: errFetcher{sentinel}}
	if _, err := tiles.FetchTile(ctx, rec, tiles.Tile{Index: 1, Width: 5}); !errors.Is(err, sentinel) || len(rec.paths) != 1 {
		t.Errorf("FetchTile with a failing fetcher: %v after %v", err, rec.paths)
	}
	// Both missing: the partial tile is the one reported.
	if _, err := tiles.FetchTile(ctx, files, tiles.Tile{Index: 7, Width: 5}); !errors.Is(err, tiles.ErrNotFound) || !strings.Contains(err.Error(), "tile/0/007.p/5") {
		t.Errorf("FetchTile(neither): %v", err)
	}
	// A full tile or bundle too short for the partial one is an error.
	short := treeFiles{"tile/0/001": make([]byte, 8160), "tile/entries/001": l.bundle(256, 43)}
	for _, tl := range []tiles.Tile{{Index: 1, Width: 44}, {Index: 1, Width: 44, Entries: true}} {
		if b, err := tiles.FetchTile(ctx, short, tl); err == nil {
			t.Errorf("FetchTile(%s) from a short full tile = %d bytes", tl.Path(), len(b))
		}
	}
	cut := l.bundle(256, 44)
	short["tile/entries/001"] = cut[:len(cut)-1]
	if b, err := tiles.FetchTile(ctx, short, tiles.Tile{Index: 1, Width: 44, Entries: true}); err == nil {
		t.Errorf("FetchTile from a bundle cut inside entry 43 = %d bytes", len(b))
	}
}

type errFetcher struct{ err error }

func (e errFetcher) Fetch(context.Context, string) ([]byte, error) { return nil, e.err }

func TestDirFetcher(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"checkpoint": []byte("cp\n"), "tile/0/000": []byte("tile")})
	f, err := tiles.NewFetcher(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(tiles.DirFetcher); !ok {
		t.Errorf("NewFetcher(dir) = %T", f)
	}
	for p, want := range map[string]string{"checkpoint": "cp\n", "tile/0/000": "tile"} {
		if got, err := f.Fetch(ctx, p); err != nil || string(got) != want {
			t.Errorf("Fetch(%s) = %q, %v", p, got, err)
		}
	}
	if _, err := f.Fetch(ctx, "tile/0/001"); !errors.Is(err, tiles.ErrNotFound) {
		t.Errorf("Fetch(missing) = %v, want ErrNotFound", err)
	}
	for _, p := range []string{"../checkpoint", "/etc/passwd", "tile/../checkpoint", "tile//0", "", "tile"} {
		if b, err := f.Fetch(ctx, p); err == nil || errors.Is(err, tiles.ErrNotFound) {
			t.Errorf("Fetch(%q) = %q, %v; want a non-not-found error", p, b, err)
		}
	}
	// Over the size limit: a bundle of 256 maximal entries plus one byte.
	big := filepath.Join(dir, "tile", "entries", "000")
	if err := os.MkdirAll(filepath.Dir(big), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 256*65537+2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(ctx, "tile/entries/000"); err == nil {
		t.Error("Fetch of an oversized file succeeded")
	}
	if err := os.Truncate(big, 256*65537); err != nil {
		t.Fatal(err)
	}
	if b, err := f.Fetch(ctx, "tile/entries/000"); err != nil || len(b) != 256*65537 {
		t.Errorf("Fetch of a maximal bundle: %d bytes, %v", len(b), err)
	}

	if _, err := tiles.NewFetcher(filepath.Join(dir, "checkpoint")); err == nil {
		t.Error("NewFetcher(file) succeeded")
	}
	if _, err := tiles.NewFetcher(filepath.Join(dir, "nonexistent")); err == nil {
		t.Error("NewFetcher(missing) succeeded")
	}
	if f, err := tiles.NewFetcher("https://example.com/log"); err != nil {
		t.Errorf("NewFetcher(https URL): %v", err)
	} else if _, ok := f.(*tiles.HTTPFetcher); !ok {
		t.Errorf("NewFetcher(https URL) = %T", f)
	}
}

func TestHTTPFetcher(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/log/checkpoint":
			w.Write([]byte("cp\n"))
		case "/log/tile/entries/000":
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write([]byte("gzipped bundle"))
			zw.Close()
		case "/log/tile/0/000":
			http.Error(w, "boom", http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, prefix := range []string{srv.URL + "/log", srv.URL + "/log/"} {
		f, err := tiles.NewHTTPFetcher(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := f.Fetch(ctx, "checkpoint"); err != nil || string(b) != "cp\n" {
			t.Errorf("%s: Fetch(checkpoint) = %q, %v", prefix, b, err)
		}
		if b, err := f.Fetch(ctx, "tile/entries/000"); err != nil || string(b) != "gzipped bundle" {
			t.Errorf("%s: Fetch(gzipped) = %q, %v", prefix, b, err)
		}
		if _, err := f.Fetch(ctx, "tile/0/001"); !errors.Is(err, tiles.ErrNotFound) {
			t.Errorf("%s: Fetch(404) = %v, want ErrNotFound", prefix, err)
		}
		if _, err := f.Fetch(ctx, "tile/0/000"); err == nil || errors.Is(err, tiles.ErrNotFound) {
			t.Errorf("%s: Fetch(500) = %v, want a non-not-found error", prefix, err)
		}
	}
	for _, bad := range []string{"ftp://example.com/", "example.com/log", "http://", "://x"} {
		if _, err := tiles.NewHTTPFetcher(bad); err == nil {
			t.Errorf("NewHTTPFetcher(%q) succeeded", bad)
		}
	}
}

// TestTreeKnownAnswers reads the Tessera test log of SPECS §9 C, rebuilt
// here from its entries, through a Tree bound to its signed checkpoint.
func TestTreeKnownAnswers(t *testing.T) {
	ctx := context.Background()
	var bundle, tile []byte
	for _, e := range katEntries {
		bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(e)))
		bundle = append(bundle, e...)
		h := refLeafHash([]byte(e))
		tile = append(tile, h[:]...)
	}
	files := treeFiles{"checkpoint": []byte(katCP15Note), "tile/0/000.p/15": tile, "tile/entries/000.p/15": bundle}
	sc, _, err := tiles.OpenCheckpoint(files["checkpoint"], mustVerifier(t, katTesseraVkey))
	if err != nil {
		t.Fatal(err)
	}
	tree := tiles.NewTree(files, sc.Checkpoint)
	e, err := tree.Entry(ctx, 4)
	if err != nil || string(e) != "five" {
		t.Errorf("Entry(4) = %q, %v", e, err)
	}
	p, err := tree.InclusionProof(ctx, 4, tiles.LeafHash([]byte("five")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"yiM+eia4w1wsk/Ukx7kF56IQVkDW3MWUaUz/VtJu+yU=", "nk9gCR+floFqznAPtqjjcnnV64dge2jQB95D5t164Hg=",
		"zY1lN35vrXYAPixXSd59LsU29xUJtuW4o2dNNg5Y2Co=", "5jLpqTgjsBDSEX6SgZiRnbTMdTuRd8bQ5tSsAOxe0Ks=",
	}
	if !slices.Equal(b64s(p), want) {
		t.Errorf("InclusionProof(4) = %v, want %v", b64s(p), want)
	}
	old := tiles.Checkpoint{Origin: "example.com/log/testdata", Size: 7, Hash: mustParseHash(t, "IrSXADBqJ7EQoUODSDKROySgNveeL6CFhik2w/+fS7U=")}
	c, err := tree.ProveConsistency(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	wantC := []string{
		"2Q0P5jSR+TdkwdXWyx+GbBWX0KZbNZkWzCjyTPSozsw=", "ThcgoV2DYcK+VCxBUDWAlNxmLy2r7dq7dK7+OlgQKWs=",
		"ycRkkNklus5eMVRUvkD1pK321vMrA+jjOiZKU8aOcY4=", "zY1lN35vrXYAPixXSd59LsU29xUJtuW4o2dNNg5Y2Co=",
		"5jLpqTgjsBDSEX6SgZiRnbTMdTuRd8bQ5tSsAOxe0Ks=",
	}
	if !slices.Equal(b64s(c), wantC) {
		t.Errorf("ProveConsistency(7) = %v, want %v", b64s(c), wantC)
	}
	b, err := tree.Bundle(ctx, 0)
	if err != nil || len(b) != 15 || string(b[14]) != "fivten" {
		t.Errorf("Bundle(0) = %q, %v", b, err)
	}
}

// TestTreeConcurrent reads one Tree from many goroutines (run with -race).
func TestTreeConcurrent(t *testing.T) {
	ctx := context.Background()
	l := newTreeLog(t, 70000)
	files := treeFiles(l.files(t, 70000))
	tree := tiles.NewTree(files, l.checkpoint(70000))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 20 {
				i := uint64((g*7919 + k*65537) % 70000)
				e, err := tree.Entry(ctx, i)
				if err != nil || !bytes.Equal(e, l.entries[i]) {
					t.Errorf("Entry(%d) = %q, %v", i, e, err)
					return
				}
				p, err := tree.InclusionProof(ctx, i, l.ref.leaf(i))
				if err != nil || !slices.Equal(p, l.ref.inclusion(i, 70000)) {
					t.Errorf("InclusionProof(%d): %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
