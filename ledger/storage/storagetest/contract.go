package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// Opener opens the storage under test. Every call opens the same underlying
// store (a directory, a database), so a second call after closing the first
// instance (if it implements io.Closer) is a restart.
type Opener func(t *testing.T) ledger.Storage

// Run runs the storage contract suite. newStore returns an Opener for a
// fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) Opener) {
	t.Run("Empty", func(t *testing.T) { testEmpty(t, newStore(t)) })
	t.Run("CompareAndSwap", func(t *testing.T) { testCompareAndSwap(t, newStore(t)) })
	t.Run("FullTilesImmutable", func(t *testing.T) { testFullTilesImmutable(t, newStore(t)) })
	t.Run("LedgerRoundTrip", func(t *testing.T) { testLedgerRoundTrip(t, newStore(t)) })
	t.Run("CheckpointHistory", func(t *testing.T) { testCheckpointHistory(t, newStore(t)) })
}

func closeStore(t testing.TB, s ledger.Storage) {
	if c, ok := s.(io.Closer); ok {
		if err := c.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
}

func testEmpty(t *testing.T, open Opener) {
	s := open(t)
	defer closeStore(t, s)
	st, err := s.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != 0 || st.Checkpoint != nil {
		t.Fatalf("new store has state %+v, want zero", st)
	}
	if _, err := s.ReadTile(t.Context(), tiles.Tile{Width: 1}); !errors.Is(err, tiles.ErrNotFound) {
		t.Fatalf("ReadTile on an empty store: %v, want ErrNotFound", err)
	}
}

// flushOf builds a valid flush appending entries to a log of the given edge.
func flushOf(t testing.TB, old ledger.State, b *tiles.Builder, bundle []byte, entries [][]byte) (*ledger.Flush, []byte) {
	f := &ledger.Flush{Old: old, Tiles: map[tiles.Tile][]byte{}}
	for _, e := range entries {
		var err error
		if bundle, err = tiles.AppendEntry(bundle, e); err != nil {
			t.Fatal(err)
		}
		b.Append(tiles.LeafHash(e), func(tl tiles.Tile, hs []tiles.Hash) { f.Tiles[tl] = tiles.MarshalHashTile(hs) })
		if b.Size()%tiles.TileWidth == 0 {
			f.Tiles[tiles.Tile{Index: b.Size()/tiles.TileWidth - 1, Width: tiles.TileWidth, Entries: true}] = bundle
			bundle = nil
		}
	}
	if bt, ok := tiles.BundleFor(b.Size()/tiles.TileWidth, b.Size()); ok {
		f.Tiles[bt] = bytes.Clone(bundle)
	}
	for tl, hs := range b.Edge() {
		f.Tiles[tl] = tiles.MarshalHashTile(hs)
	}
	f.New = ledger.State{Size: b.Size(), Root: b.Root(), Checkpoint: []byte(fmt.Sprintf("checkpoint %d\n", b.Size()))}
	return f, bundle
}

func entriesFrom(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("entry %d", from+i))
	}
	return out
}

func testCompareAndSwap(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	b, _ := tiles.NewBuilder(ctx, 0, nil)
	f1, bundle := flushOf(t, ledger.State{}, b, nil, entriesFrom(0, 300))
	if err := s.Commit(ctx, f1); err != nil {
		t.Fatalf("first commit: %v", err)
	}
	// A flush from a stale state must not apply.
	stale, _ := tiles.NewBuilder(ctx, 0, nil)
	f2, _ := flushOf(t, ledger.State{}, stale, nil, entriesFrom(1000, 10))
	if err := s.Commit(ctx, f2); !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("commit from a stale state: %v, want ErrConflict", err)
	}
	st, _ := s.State(ctx)
	if st.Size != 300 || st.Root != f1.New.Root || !bytes.Equal(st.Checkpoint, f1.New.Checkpoint) {
		t.Fatalf("state after a refused commit is %d/%s, want 300/%s", st.Size, st.Root, f1.New.Root)
	}
	f3, _ := flushOf(t, f1.New, b, bundle, entriesFrom(300, 5))
	if err := s.Commit(ctx, f3); err != nil {
		t.Fatalf("second commit: %v", err)
	}
	closeStore(t, s)

	s = open(t) // restart
	defer closeStore(t, s)
	st, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != 305 || st.Root != f3.New.Root || !bytes.Equal(st.Checkpoint, f3.New.Checkpoint) {
		t.Fatalf("state after restart is %d/%s, want 305/%s", st.Size, st.Root, f3.New.Root)
	}
	for tl, want := range f3.Tiles {
		got, err := s.ReadTile(ctx, tl)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadTile(%s) after restart: %v, content equal %v", tl.Path(), err, bytes.Equal(got, want))
		}
	}
	full := tiles.Tile{Width: tiles.TileWidth}
	if got, err := s.ReadTile(ctx, full); err != nil || !bytes.Equal(got, f1.Tiles[full]) {
		t.Fatalf("full tile from the first commit changed or vanished: %v", err)
	}
}

func testFullTilesImmutable(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	defer closeStore(t, s)
	b, _ := tiles.NewBuilder(ctx, 0, nil)
	f1, _ := flushOf(t, ledger.State{}, b, nil, entriesFrom(0, 256))
	if err := s.Commit(ctx, f1); err != nil {
		t.Fatal(err)
	}
	forged := &ledger.Flush{Old: f1.New, New: ledger.State{Size: 257, Root: f1.New.Root, Checkpoint: []byte("x\n")},
		Tiles: map[tiles.Tile][]byte{{Width: tiles.TileWidth}: make([]byte, 8192)}}
	if err := s.Commit(ctx, forged); err == nil {
		t.Fatal("a flush rewriting a committed full tile was accepted")
	}
	got, err := s.ReadTile(ctx, tiles.Tile{Width: tiles.TileWidth})
	if err != nil || !bytes.Equal(got, f1.Tiles[tiles.Tile{Width: tiles.TileWidth}]) {
		t.Fatalf("committed full tile changed: %v", err)
	}
}

// testLedgerRoundTrip runs a real ledger over the store, restarts it, and
// audits everything it wrote with the verifying client.
func testLedgerRoundTrip(t *testing.T, open Opener) {
	ctx := t.Context()
	signer, vkey := NewSigner(t, "example.com/storagetest")
	s := open(t)
	keys := KeysFor(s)
	l := NewLedger(t, s, keys, signer)
	var want [][]byte
	appendN := func(l *ledger.Ledger, n int) {
		var batch []ledger.Entry
		for range n {
			leaf := []byte(fmt.Sprintf("key-%d|payload %d", len(want), len(want)))
			batch = append(batch, ledger.Entry{Key: fmt.Sprintf("key-%d", len(want)), Leaf: leaf})
			want = append(want, leaf)
		}
		res, err := l.Append(ctx, batch)
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		for i, r := range res {
			if r.Index != uint64(len(want)-n+i) || r.Duplicate {
				t.Fatalf("entry landed at %+v, want index %d", r, len(want)-n+i)
			}
		}
	}
	for _, n := range []int{1, 255, 1, 600, 3} {
		appendN(l, n)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)

	s = open(t)
	defer closeStore(t, s)
	l = NewLedger(t, s, keys, signer)
	defer l.Close(ctx)
	// A retried key resolves to the original entry, across the restart.
	res, err := l.Append(ctx, []ledger.Entry{{Key: "key-300", Leaf: want[300]}})
	if err != nil || res[0].Index != 300 || !res[0].Duplicate || res[0].LeafHash != tiles.LeafHash(want[300]) {
		t.Fatalf("retry of key-300 after restart: %+v, %v", res, err)
	}
	// The same key with other content is refused, naming the original.
	_, err = l.Append(ctx, []ledger.Entry{{Key: "key-300", Leaf: []byte("key-300|something else")}})
	if kc := (*ledger.KeyConflictError)(nil); !errors.As(err, &kc) || kc.Index != 300 || !errors.Is(err, ledger.ErrKeyConflict) {
		t.Fatalf("key-300 with other content after restart: %v, want a conflict at 300", err)
	}
	appendN(l, 700)
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	AuditStore(t, s, vkey, want)
}

// NewLedger starts a ledger over s, with keys as its key store (nil when s
// keeps the key index itself; see KeysFor), whose leaves carry their key
// before a "|".
func NewLedger(t *testing.T, s ledger.Storage, keys ledger.KeyStore, signer note.Signer) *ledger.Ledger {
	t.Helper()
	l, err := ledger.New(t.Context(), ledger.Config{Storage: s, Keys: keys, Signer: signer, KeyOf: KeyBeforeBar, PublishInterval: 1})
	if err != nil {
		t.Fatalf("ledger.New: %v", err)
	}
	return l
}

// KeysFor returns the key store a ledger over s needs: nil if s keeps the
// key index itself, else a new MemoryKeys. A test that restarts the ledger
// passes the same one to each.
func KeysFor(s ledger.Storage) ledger.KeyStore {
	if _, own := s.(ledger.KeyStore); own {
		return nil
	}
	return NewMemoryKeys()
}

// KeyBeforeBar is the KeyOf of test leaves "key|payload".
func KeyBeforeBar(leaf []byte) (string, error) {
	k, _, ok := strings.Cut(string(leaf), "|")
	if !ok {
		return "", nil
	}
	return k, nil
}

// storeFetcher serves a store's tiles and committed checkpoint to the verifying client.
type storeFetcher struct{ s ledger.Storage }

func (f storeFetcher) Fetch(ctx context.Context, path string) ([]byte, error) {
	switch path {
	case tiles.CheckpointPath:
		st, err := f.s.State(ctx)
		return st.Checkpoint, err
	case tiles.PrunedPath:
		p, ok := f.s.(ledger.Pruner)
		if !ok {
			return nil, fmt.Errorf("%s: %w", path, tiles.ErrNotFound)
		}
		pr, err := p.Pruned(ctx)
		if err != nil {
			return nil, err
		}
		return json.Marshal(pr)
	}
	t, err := tiles.ParsePath(path)
	if err != nil {
		return nil, err
	}
	return f.s.ReadTile(ctx, t)
}

// AuditStore verifies the store's committed checkpoint with vkey, audits the
// whole tree with the verifying client and checks that every entry is the
// expected one, byte for byte.
func AuditStore(t *testing.T, s ledger.Storage, vkey string, want [][]byte) {
	t.Helper()
	ctx := t.Context()
	f := storeFetcher{s}
	raw, err := f.Fetch(ctx, tiles.CheckpointPath)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := policy.Verify(raw)
	if err != nil {
		t.Fatalf("committed checkpoint: %v", err)
	}
	if sc.Size != uint64(len(want)) {
		t.Fatalf("committed size %d, want %d", sc.Size, len(want))
	}
	if err := tiles.Audit(ctx, f, sc.Checkpoint, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit: %v", err)
	}
	tree := tiles.NewTree(f, sc.Checkpoint)
	var got, exp []byte
	for i := range want {
		e, err := tree.Entry(ctx, uint64(i))
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		got = append(got, e...)
		exp = append(exp, want[i]...)
	}
	if sha256.Sum256(got) != sha256.Sum256(exp) {
		t.Fatal("stored entries differ from the appended ones")
	}
}

// NewSigner returns a fresh log signer named origin and its vkey.
func NewSigner(t testing.TB, origin string) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return signer, vkey
}
