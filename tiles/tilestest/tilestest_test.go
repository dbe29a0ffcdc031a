package tilestest_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
	"github.com/ledger-dev/ledger/tiles/tilestest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The tessera test log (transparency-dev/tessera testdata/log): its key,
// entries and published files are known answers for the writer.
const (
	tesseraSKey = "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
	tesseraVKey = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
	tesseraCP15 = "example.com/log/testdata\n15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n\n" +
		"— example.com/log/testdata M9e0luh4jTG+UMBqOUo9/q+yAEvx1ilBEniMvjf1zfcBOhg+CKubMt53MvIt/uEWP6zdkdIQzd/fmwlM/dlPWF74ewI=\n"
)

var tesseraEntries = []string{"one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven", "twelf", "threeten", "fourten", "fivten"}

func TestKnownAnswers(t *testing.T) {
	s, err := note.NewSigner(tesseraSKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l := tilestest.New(dir, s)
	// Grow 0 → 3 → 7 → 15 as separate publications.
	for _, step := range []struct {
		size int
		root string
	}{
		{3, ""},
		{7, "IrSXADBqJ7EQoUODSDKROySgNveeL6CFhik2w/+fS7U="},
		{15, "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs="},
	} {
		var es [][]byte
		for _, e := range tesseraEntries[l.Size():step.size] {
			es = append(es, []byte(e))
		}
		if _, err := l.Append(es...); err != nil {
			t.Fatal(err)
		}
		if step.root != "" && l.Root().String() != step.root {
			t.Errorf("root at size %d = %s, want %s", step.size, l.Root(), step.root)
		}
	}
	if got := string(l.Checkpoint()); got != tesseraCP15 {
		t.Errorf("checkpoint at size 15:\n%s\nwant:\n%s", got, tesseraCP15)
	}
	read := func(p string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if got, want := hex.EncodeToString(read("tile/entries/000.p/3")), "00036f6e6500037477"+"6f00057468726565"; got != want {
		t.Errorf("tile/entries/000.p/3 = %s, want %s", got, want)
	}
	if got := len(read("tile/entries/000.p/15")); got != 99 {
		t.Errorf("tile/entries/000.p/15 has %d bytes, want 99", got)
	}
	if got := len(read("tile/0/000.p/15")); got != 480 {
		t.Errorf("tile/0/000.p/15 has %d bytes, want 480", got)
	}
	// The earlier publications' partial files stay.
	for _, p := range []string{"tile/0/000.p/3", "tile/0/000.p/7", "tile/entries/000.p/7"} {
		read(p)
	}
	if !bytes.Equal(read("checkpoint"), l.Checkpoint()) {
		t.Error("checkpoint file differs from Checkpoint()")
	}
	if got := tiles.LeafHash([]byte("one")); hex.EncodeToString(got[:]) != "d0d7360ab79f58ab1e1e3fe64ad77e2ea0bc07e36b5f46ed2223edd9298df9e9" {
		t.Errorf("leaf hash of \"one\" = %x", got)
	}
}

func TestNewKey(t *testing.T) {
	for i := range 200 { // some keys have a "+" in their base64
		if s, vkey := tilestest.NewKey(fmt.Sprintf("example.com/key%d", i)); s.Name() != vkey[:strings.IndexByte(vkey, 0x2b)] {
			t.Fatalf("signer name %q for vkey %q", s.Name(), vkey)
		}
	}
	s, vkey := tilestest.NewKey("example.com/test")
	s2, vkey2 := tilestest.NewKey("example.com/test")
	if vkey != vkey2 || s.KeyHash() != s2.KeyHash() {
		t.Error("NewKey is not deterministic")
	}
	if _, other := tilestest.NewKey("example.com/other"); other == vkey {
		t.Error("two names give the same key")
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Errorf("signature by NewKey's signer does not verify with its vkey: %v", err)
	}
}

func TestEntry(t *testing.T) {
	seen := map[int]bool{}
	for i := range uint64(5000) {
		e := tilestest.Entry(i)
		if len(e) < 100 || len(e) > 400 {
			t.Fatalf("entry %d has %d bytes: %s", i, len(e), e)
		}
		if !bytes.Equal(e, tilestest.Entry(i)) {
			t.Fatalf("entry %d is not deterministic", i)
		}
		seen[len(e)/100] = true
	}
	if len(seen) < 4 {
		t.Errorf("entry lengths fall in only %d bands of 100 bytes", len(seen))
	}
}

// tlogHashes is an independent RFC 6962 implementation (x/mod sumdb/tlog)
// to check the writer's roots against.
type tlogHashes []tlog.Hash

func (h tlogHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = h[x]
	}
	return out, nil
}

// TestGrow grows a log in uneven steps across tile boundaries at levels 0
// and 1, and after every step checks the root against x/mod's tlog, that
// every file of the tree exists with the right size, and that the tiles
// package audits it and proves consistency with every earlier checkpoint.
func TestGrow(t *testing.T) {
	ctx := context.Background()
	s, vkey := tilestest.NewKey("example.com/grow")
	policy, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l := tilestest.New(dir, s)
	var stored tlogHashes
	var cps []tiles.Checkpoint
	for _, size := range []uint64{0, 1, 2, 255, 256, 257, 600, 65535, 65536, 65537, 66000} {
		start := l.Size()
		raw, err := l.AppendFunc(size-start, tilestest.Entry)
		if err != nil {
			t.Fatal(err)
		}
		for i := start; i < size; i++ {
			hs, err := tlog.StoredHashes(int64(i), tilestest.Entry(i), stored)
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, hs...)
		}
		want := tiles.EmptyRoot
		if size > 0 {
			h, err := tlog.TreeHash(int64(size), stored)
			if err != nil {
				t.Fatal(err)
			}
			want = tiles.Hash(h)
		}
		if l.Root() != want {
			t.Fatalf("root at size %d = %s, tlog says %s", size, l.Root(), want)
		}
		sc, err := policy.Verify(raw)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if sc.Size != size || sc.Hash != want || sc.Origin != l.Origin() {
			t.Fatalf("size %d: checkpoint says %+v", size, sc.Checkpoint)
		}
		for _, p := range tilestest.Files(size) {
			st, err := os.Stat(filepath.Join(dir, p))
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			if tl, err := tiles.ParsePath(p); err == nil && !tl.Entries && st.Size() != int64(tl.Width)*tiles.HashSize {
				t.Fatalf("size %d: %s has %d bytes", size, p, st.Size())
			}
		}
		if err := tiles.Audit(ctx, tiles.DirFetcher(dir), sc.Checkpoint, tiles.AuditOptions{}); err != nil {
			t.Fatalf("size %d: audit: %v", size, err)
		}
		tree := tiles.NewTree(tiles.DirFetcher(dir), sc.Checkpoint)
		for _, old := range cps {
			if _, err := tree.ProveConsistency(ctx, old); err != nil {
				t.Fatalf("consistency %d → %d: %v", old.Size, size, err)
			}
		}
		cps = append(cps, sc.Checkpoint)
	}
	// Stale partials from earlier sizes are still there.
	for _, p := range []string{"tile/0/000.p/1", "tile/entries/000.p/255", "tile/1/000.p/1", "tile/1/000.p/255", "tile/2/000.p/1"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("stale partial: %v", err)
		}
	}
}

func TestFiles(t *testing.T) {
	got := tilestest.Files(70000)
	// 274 bundles, 274 level-0 tiles, 2 level-1 tiles, 1 level-2 tile, the checkpoint.
	if len(got) != 274+274+2+1+1 {
		t.Errorf("Files(70000) has %d paths", len(got))
	}
	for _, want := range []string{"checkpoint", "tile/entries/273.p/112", "tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"} {
		found := false
		for _, p := range got {
			found = found || p == want
		}
		if !found {
			t.Errorf("Files(70000) lacks %s", want)
		}
	}
	if got := tilestest.Files(0); len(got) != 1 {
		t.Errorf("Files(0) = %v, want only the checkpoint", got)
	}
}

func TestGenerate(t *testing.T) {
	s, vkey := tilestest.NewKey("example.com/generate")
	dir := t.TempDir()
	start := time.Now()
	const size = 100_003
	raw, err := tilestest.Generate(dir, s, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d entries in %v", size, time.Since(start))
	policy, _ := tiles.NewLogPolicy(vkey)
	sc, err := policy.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Size != size {
		t.Fatalf("size %d", sc.Size)
	}
	if err := tiles.Audit(context.Background(), tiles.DirFetcher(dir), sc.Checkpoint, tiles.AuditOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := tiles.NewTree(tiles.DirFetcher(dir), sc.Checkpoint).Entry(context.Background(), 77777)
	if err != nil || !bytes.Equal(got, tilestest.Entry(77777)) {
		t.Fatalf("entry 77777 = %q, %v", got, err)
	}
}
