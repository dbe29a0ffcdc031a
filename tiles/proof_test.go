package tiles_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// refLeafHash and refNodeHash are RFC 6962 hashing written out with
// crypto/sha256, independent of the code under test.
func refLeafHash(entry []byte) tiles.Hash {
	return sha256.Sum256(append([]byte{0}, entry...))
}

func refNodeHash(l, r tiles.Hash) tiles.Hash {
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// refTree is an RFC 6962 Merkle tree built from first principles.
// levels[k][i] is the complete node at height k with index i, the root of
// leaves [i·2^k, (i+1)·2^k).
type refTree struct {
	levels [][]tiles.Hash
}

func newRefTree(leaves []tiles.Hash) *refTree {
	levels := [][]tiles.Hash{slices.Clone(leaves)}
	for cur := levels[0]; len(cur) > 1; {
		next := make([]tiles.Hash, len(cur)/2)
		for i := range next {
			next[i] = refNodeHash(cur[2*i], cur[2*i+1])
		}
		levels = append(levels, next)
		cur = next
	}
	return &refTree{levels: levels}
}

// newRefTreeOf builds the tree of the given entries.
func newRefTreeOf(entries [][]byte) *refTree {
	leaves := make([]tiles.Hash, len(entries))
	for i, e := range entries {
		leaves[i] = refLeafHash(e)
	}
	return newRefTree(leaves)
}

func (r *refTree) leaf(i uint64) tiles.Hash { return r.levels[0][i] }

// splitPoint is the largest power of two smaller than n > 1.
func splitPoint(n uint64) uint64 { return 1 << (bits.Len64(n-1) - 1) }

// mth is the RFC 6962 Merkle Tree Hash of leaves [a, b).
func (r *refTree) mth(a, b uint64) tiles.Hash {
	n := b - a
	if n == 0 {
		return sha256.Sum256(nil)
	}
	if n&(n-1) == 0 && a%n == 0 {
		return r.levels[bits.TrailingZeros64(n)][a/n]
	}
	k := splitPoint(n)
	return refNodeHash(r.mth(a, a+k), r.mth(a+k, b))
}

func (r *refTree) root(size uint64) tiles.Hash { return r.mth(0, size) }

// inclusion is RFC 6962 §2.1.1 PATH(m, D[0:size]).
func (r *refTree) inclusion(m, size uint64) []tiles.Hash { return r.path(m, 0, size) }

func (r *refTree) path(m, a, b uint64) []tiles.Hash {
	if b-a <= 1 {
		return nil
	}
	k := splitPoint(b - a)
	if m < a+k {
		return append(r.path(m, a, a+k), r.mth(a+k, b))
	}
	return append(r.path(m, a+k, b), r.mth(a, a+k))
}

// consistency is RFC 6962 §2.1.2 PROOF(m, D[0:n]), empty for m = 0 or m = n.
func (r *refTree) consistency(m, n uint64) []tiles.Hash {
	if m == 0 || m == n {
		return nil
	}
	return r.subproof(m, 0, n, true)
}

func (r *refTree) subproof(m, a, b uint64, whole bool) []tiles.Hash {
	n := b - a
	if m == n {
		if whole {
			return nil
		}
		return []tiles.Hash{r.mth(a, b)}
	}
	k := splitPoint(n)
	if m <= k {
		return append(r.subproof(m, a, a+k, whole), r.mth(a+k, b))
	}
	return append(r.subproof(m-k, a+k, b, false), r.mth(a, a+k))
}

// refTileOK reports whether hash tile t exists in the tree of size leaves,
// computed from SPECS §4 without the code under test.
func refTileOK(t tiles.Tile, size uint64) bool {
	if t.Entries || t.Level > 7 {
		return false
	}
	nodes := size >> (8 * uint(t.Level))
	full := nodes / 256
	return (t.Index < full && t.Width == 256) || (t.Index == full && t.Width > 0 && uint64(t.Width) == nodes%256)
}

// tile returns the hashes of hash tile t: the complete nodes at height 8·L
// with indexes [N·256, N·256+W).
func (r *refTree) tile(t tiles.Tile) []tiles.Hash {
	lv := r.levels[8*int(t.Level)]
	start := t.Index * 256
	return slices.Clone(lv[start : start+uint64(t.Width)])
}

// tilesOf returns every hash tile of the tree of size leaves, full and partial.
func (r *refTree) tilesOf(size uint64) map[tiles.Tile][]tiles.Hash {
	out := map[tiles.Tile][]tiles.Hash{}
	for l := uint8(0); l < 8 && size>>(8*uint(l)) > 0; l++ {
		nodes := size >> (8 * uint(l))
		for n := uint64(0); n*256 < nodes; n++ {
			t := tiles.Tile{Level: l, Index: n, Width: uint16(min(256, nodes-n*256))}
			out[t] = r.tile(t)
		}
	}
	return out
}

// merkleInclusion and merkleConsistency compute proofs with
// transparency-dev/merkle over the reference tree's nodes.
func (r *refTree) merkleInclusion(t testing.TB, i, size uint64) []tiles.Hash {
	t.Helper()
	nodes, err := proof.Inclusion(i, size)
	if err != nil {
		t.Fatal(err)
	}
	return r.rehash(t, nodes)
}

func (r *refTree) merkleConsistency(t testing.TB, old, size uint64) []tiles.Hash {
	t.Helper()
	nodes, err := proof.Consistency(old, size)
	if err != nil {
		t.Fatal(err)
	}
	return r.rehash(t, nodes)
}

func (r *refTree) rehash(t testing.TB, nodes proof.Nodes) []tiles.Hash {
	t.Helper()
	var hs [][]byte
	for _, id := range nodes.IDs {
		h := r.levels[id.Level][id.Index]
		hs = append(hs, h[:])
	}
	out, err := nodes.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		t.Fatal(err)
	}
	var p []tiles.Hash
	for _, h := range out {
		p = append(p, tiles.Hash(h))
	}
	return p
}

// refTileReader serves the hash tiles of the tree of size leaves from a
// reference tree, refusing any tile that is not in that tree.
type refTileReader struct {
	ref   *refTree
	size  uint64
	reads []tiles.Tile
}

func (r *refTileReader) ReadTile(_ context.Context, t tiles.Tile) ([]tiles.Hash, error) {
	r.reads = append(r.reads, t)
	if !refTileOK(t, r.size) {
		return nil, fmt.Errorf("tile %s is not in the tree of size %d", t.Path(), r.size)
	}
	return r.ref.tile(t), nil
}

// mapTileReader serves hash tiles from a map.
type mapTileReader map[tiles.Tile][]tiles.Hash

func (m mapTileReader) ReadTile(_ context.Context, t tiles.Tile) ([]tiles.Hash, error) {
	hs, ok := m[t]
	if !ok {
		return nil, fmt.Errorf("no tile %s", t.Path())
	}
	return slices.Clone(hs), nil
}

// testEntries returns n distinct entries of varying length.
func testEntries(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "entry %d %s", i, make([]byte, i%7))
	}
	return out
}

func b64s(hs []tiles.Hash) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.String())
	}
	return out
}

// sampleIndexes returns some fixed and some random indexes below n.
func sampleIndexes(rng *rand.Rand, n uint64, fixed ...uint64) []uint64 {
	var out []uint64
	for _, i := range fixed {
		if i < n {
			out = append(out, i)
		}
	}
	out = append(out, 0, n-1, n/2, n/3)
	for range 3 {
		out = append(out, rng.Uint64N(n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkProofs compares the proofs built from tiles with the RFC 6962
// reference and with transparency-dev/merkle, for a sample of indexes and
// older sizes of the tree of size leaves.
func checkProofs(t *testing.T, ctx context.Context, ref *refTree, rng *rand.Rand, size uint64, fixed ...uint64) {
	t.Helper()
	r := &refTileReader{ref: ref, size: size}
	root := ref.root(size)
	for _, i := range sampleIndexes(rng, size, fixed...) {
		got, err := tiles.InclusionProof(ctx, r, i, size)
		if err != nil {
			t.Fatalf("InclusionProof(%d, %d): %v", i, size, err)
		}
		if want := ref.inclusion(i, size); !slices.Equal(got, want) {
			t.Fatalf("InclusionProof(%d, %d) = %v, RFC 6962 says %v", i, size, b64s(got), b64s(want))
		}
		if want := ref.merkleInclusion(t, i, size); !slices.Equal(got, want) {
			t.Fatalf("InclusionProof(%d, %d) = %v, merkle says %v", i, size, b64s(got), b64s(want))
		}
		if err := tiles.VerifyInclusion(ref.leaf(i), i, size, got, root); err != nil {
			t.Fatalf("VerifyInclusion(%d, %d): %v", i, size, err)
		}
	}
	for _, old := range append(sampleIndexes(rng, size, fixed...), size) {
		got, err := tiles.ConsistencyProof(ctx, r, old, size)
		if err != nil {
			t.Fatalf("ConsistencyProof(%d, %d): %v", old, size, err)
		}
		if want := ref.consistency(old, size); !slices.Equal(got, want) {
			t.Fatalf("ConsistencyProof(%d, %d) = %v, RFC 6962 says %v", old, size, b64s(got), b64s(want))
		}
		if want := ref.merkleConsistency(t, old, size); !slices.Equal(got, want) {
			t.Fatalf("ConsistencyProof(%d, %d) = %v, merkle says %v", old, size, b64s(got), b64s(want))
		}
		if err := tiles.VerifyConsistency(old, ref.root(old), size, root, got); err != nil {
			t.Fatalf("VerifyConsistency(%d, %d): %v", old, size, err)
		}
	}
	for _, tl := range r.reads {
		if !refTileOK(tl, size) {
			t.Fatalf("size %d: read tile %s outside the tree", size, tl.Path())
		}
	}
}

func TestProofsFromTilesSmall(t *testing.T) {
	ctx := context.Background()
	ref := newRefTreeOf(testEntries(600))
	rng := rand.New(rand.NewPCG(5, 6))
	for size := uint64(1); size <= 600; size++ {
		checkProofs(t, ctx, ref, rng, size, 255, 256, 511, 512)
	}
}

func TestProofsFromTilesAround65536(t *testing.T) {
	ctx := context.Background()
	ref := newRefTreeOf(testEntries(70000))
	rng := rand.New(rand.NewPCG(7, 8))
	for _, size := range []uint64{65280, 65281, 65535, 65536, 65537, 65536 + 255, 65536 + 256, 65536 + 257, 66000, 69999, 70000} {
		checkProofs(t, ctx, ref, rng, size, 1, 255, 256, 257, 65279, 65280, 65535, 65536, 65537, 65791, 65792)
	}
}

// TestProofKnownAnswers checks SPECS §9 C: the Tessera test log.
func TestProofKnownAnswers(t *testing.T) {
	ctx := context.Background()
	var entries [][]byte
	for _, e := range katEntries {
		entries = append(entries, []byte(e))
	}
	ref := newRefTreeOf(entries)
	if got := ref.root(15).String(); got != katRoot15 {
		t.Errorf("root(15) = %s, want %s", got, katRoot15)
	}
	if got := ref.root(7).String(); got != "IrSXADBqJ7EQoUODSDKROySgNveeL6CFhik2w/+fS7U=" {
		t.Errorf("root(7) = %s", got)
	}
	if r1 := ref.root(1); hex.EncodeToString(r1[:]) != "d0d7360ab79f58ab1e1e3fe64ad77e2ea0bc07e36b5f46ed2223edd9298df9e9" {
		t.Errorf("root(1) = %x", r1[:])
	}
	if got := ref.root(1); got != tiles.LeafHash([]byte("one")) {
		t.Errorf("root(1) = %s, but LeafHash(one) = %s", got, tiles.LeafHash([]byte("one")))
	}
	r := &refTileReader{ref: ref, size: 15}
	incl, err := tiles.InclusionProof(ctx, r, 4, 15)
	if err != nil {
		t.Fatal(err)
	}
	wantIncl := []string{
		"yiM+eia4w1wsk/Ukx7kF56IQVkDW3MWUaUz/VtJu+yU=", "nk9gCR+floFqznAPtqjjcnnV64dge2jQB95D5t164Hg=",
		"zY1lN35vrXYAPixXSd59LsU29xUJtuW4o2dNNg5Y2Co=", "5jLpqTgjsBDSEX6SgZiRnbTMdTuRd8bQ5tSsAOxe0Ks=",
	}
	if got := b64s(incl); !slices.Equal(got, wantIncl) {
		t.Errorf("InclusionProof(4, 15) = %v, want %v", got, wantIncl)
	}
	root15 := mustParseHash(t, katRoot15)
	if err := tiles.VerifyInclusion(tiles.LeafHash([]byte("five")), 4, 15, incl, root15); err != nil {
		t.Errorf("VerifyInclusion(five): %v", err)
	}
	cons, err := tiles.ConsistencyProof(ctx, r, 7, 15)
	if err != nil {
		t.Fatal(err)
	}
	wantCons := []string{
		"2Q0P5jSR+TdkwdXWyx+GbBWX0KZbNZkWzCjyTPSozsw=", "ThcgoV2DYcK+VCxBUDWAlNxmLy2r7dq7dK7+OlgQKWs=",
		"ycRkkNklus5eMVRUvkD1pK321vMrA+jjOiZKU8aOcY4=", "zY1lN35vrXYAPixXSd59LsU29xUJtuW4o2dNNg5Y2Co=",
		"5jLpqTgjsBDSEX6SgZiRnbTMdTuRd8bQ5tSsAOxe0Ks=",
	}
	if got := b64s(cons); !slices.Equal(got, wantCons) {
		t.Errorf("ConsistencyProof(7, 15) = %v, want %v", got, wantCons)
	}
	root7 := mustParseHash(t, "IrSXADBqJ7EQoUODSDKROySgNveeL6CFhik2w/+fS7U=")
	if err := tiles.VerifyConsistency(7, root7, 15, root15, cons); err != nil {
		t.Errorf("VerifyConsistency(7, 15): %v", err)
	}
	// The only tile a tree of 15 has is tile/0/000.p/15.
	for _, tl := range r.reads {
		if tl.Path() != "tile/0/000.p/15" {
			t.Errorf("read %s", tl.Path())
		}
	}
}

func TestProofErrors(t *testing.T) {
	ctx := context.Background()
	ref := newRefTreeOf(testEntries(300))
	r := &refTileReader{ref: ref, size: 300}
	for _, tc := range []struct{ index, size uint64 }{{300, 300}, {301, 300}, {0, 0}} {
		if p, err := tiles.InclusionProof(ctx, r, tc.index, tc.size); err == nil {
			t.Errorf("InclusionProof(%d, %d) = %v, want an error", tc.index, tc.size, b64s(p))
		}
	}
	if p, err := tiles.ConsistencyProof(ctx, r, 301, 300); err == nil {
		t.Errorf("ConsistencyProof(301, 300) = %v, want an error", b64s(p))
	}
	// Empty proofs need no tiles.
	for _, old := range []uint64{0, 300} {
		r.reads = nil
		if p, err := tiles.ConsistencyProof(ctx, r, old, 300); err != nil || len(p) != 0 || len(r.reads) != 0 {
			t.Errorf("ConsistencyProof(%d, 300) = %v, %v after %d reads; want empty", old, b64s(p), err, len(r.reads))
		}
	}

	// A reader error comes back wrapped; a tile of the wrong width is refused.
	sentinel := errors.New("disk on fire")
	if _, err := tiles.InclusionProof(ctx, errTileReader{sentinel}, 5, 300); !errors.Is(err, sentinel) {
		t.Errorf("InclusionProof with a failing reader: %v", err)
	}
	short := mapTileReader(ref.tilesOf(300))
	for tl, hs := range short {
		short[tl] = hs[:len(hs)-1]
	}
	if _, err := tiles.InclusionProof(ctx, short, 5, 300); err == nil {
		t.Error("InclusionProof accepted tiles one hash short")
	}
	if _, err := tiles.ConsistencyProof(ctx, short, 5, 300); err == nil {
		t.Error("ConsistencyProof accepted tiles one hash short")
	}
}

type errTileReader struct{ err error }

func (e errTileReader) ReadTile(context.Context, tiles.Tile) ([]tiles.Hash, error) { return nil, e.err }

func TestVerifyInclusionRejects(t *testing.T) {
	ref := newRefTreeOf(testEntries(20))
	root := ref.root(20)
	p := ref.inclusion(6, 20)
	if err := tiles.VerifyInclusion(ref.leaf(6), 6, 20, p, root); err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(p)
	flipped[1][0] ^= 1
	for _, tc := range []struct {
		name        string
		leaf        tiles.Hash
		index, size uint64
		proof       []tiles.Hash
		root        tiles.Hash
	}{
		{"wrong leaf", ref.leaf(7), 6, 20, p, root},
		{"wrong index", ref.leaf(6), 7, 20, p, root},
		{"wrong size", ref.leaf(6), 6, 40, p, root},
		{"wrong root", ref.leaf(6), 6, 20, p, ref.root(19)},
		{"tampered proof", ref.leaf(6), 6, 20, flipped, root},
		{"proof too short", ref.leaf(6), 6, 20, p[:len(p)-1], root},
		{"proof too long", ref.leaf(6), 6, 20, append(slices.Clone(p), root), root},
		{"index beyond size", ref.leaf(6), 20, 20, p, root},
		{"size 0", ref.leaf(6), 0, 0, nil, tiles.EmptyRoot},
	} {
		if err := tiles.VerifyInclusion(tc.leaf, tc.index, tc.size, tc.proof, tc.root); !errors.Is(err, tiles.ErrProof) {
			t.Errorf("%s: VerifyInclusion error %v, want ErrProof", tc.name, err)
		}
	}
}

func TestVerifyConsistency(t *testing.T) {
	ref := newRefTreeOf(testEntries(20))
	p := ref.consistency(7, 20)
	flipped := slices.Clone(p)
	flipped[0][5] ^= 0x80
	nonEmpty := ref.root(20)
	for _, tc := range []struct {
		name    string
		old     uint64
		oldRoot tiles.Hash
		size    uint64
		root    tiles.Hash
		proof   []tiles.Hash
		ok      bool
	}{
		{"7 to 20", 7, ref.root(7), 20, ref.root(20), p, true},
		{"old 0, empty proof", 0, tiles.EmptyRoot, 20, ref.root(20), nil, true},
		{"0 to 0", 0, tiles.EmptyRoot, 0, tiles.EmptyRoot, nil, true},
		{"old 0, non-empty proof", 0, tiles.EmptyRoot, 20, ref.root(20), []tiles.Hash{ref.root(20)}, false},
		{"old 0, non-empty-tree root", 0, ref.root(1), 20, ref.root(20), nil, false},
		{"old 0, zero root", 0, tiles.Hash{}, 20, ref.root(20), nil, false},
		{"equal sizes, equal roots", 20, ref.root(20), 20, ref.root(20), nil, true},
		{"equal sizes, different roots", 20, ref.root(19), 20, ref.root(20), nil, false},
		{"equal sizes, non-empty proof", 20, ref.root(20), 20, ref.root(20), []tiles.Hash{nonEmpty}, false},
		{"old > size", 21, ref.root(20), 20, ref.root(20), nil, false},
		{"old > size with a proof", 20, ref.root(20), 7, ref.root(7), p, false},
		{"wrong old root", 7, ref.root(6), 20, ref.root(20), p, false},
		{"wrong new root", 7, ref.root(7), 20, ref.root(19), p, false},
		{"wrong old size", 6, ref.root(7), 20, ref.root(20), p, false},
		{"tampered proof", 7, ref.root(7), 20, ref.root(20), flipped, false},
		{"empty proof", 7, ref.root(7), 20, ref.root(20), nil, false},
		{"extra hash", 7, ref.root(7), 20, ref.root(20), append(slices.Clone(p), nonEmpty), false},
		{"power of two, empty proof", 8, ref.root(8), 16, ref.root(16), ref.consistency(8, 16), true},
	} {
		err := tiles.VerifyConsistency(tc.old, tc.oldRoot, tc.size, tc.root, tc.proof)
		if tc.ok && err != nil {
			t.Errorf("%s: VerifyConsistency: %v", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, tiles.ErrProof) {
			t.Errorf("%s: VerifyConsistency error %v, want ErrProof", tc.name, err)
		}
	}
}

func TestRootFromEdge(t *testing.T) {
	ref := newRefTreeOf(testEntries(70000))
	sizes := []uint64{0, 65535, 65536, 65537, 66000, 70000}
	for s := uint64(1); s <= 600; s++ {
		sizes = append(sizes, s)
	}
	for _, size := range sizes {
		edge := mapTileReader{}
		for tl, hs := range ref.tilesOf(size) {
			if tl.Width < 256 {
				edge[tl] = hs
			}
		}
		got, err := tiles.RootFromEdge(size, edge)
		if err != nil {
			t.Fatalf("RootFromEdge(%d): %v", size, err)
		}
		if want := ref.root(size); got != want {
			t.Fatalf("RootFromEdge(%d) = %s, want %s", size, got, want)
		}
		for tl := range edge {
			missing := maps.Clone(edge)
			delete(missing, tl)
			if _, err := tiles.RootFromEdge(size, missing); err == nil {
				t.Fatalf("RootFromEdge(%d) without %s succeeded", size, tl.Path())
			}
		}
	}
}

func TestBuilder(t *testing.T) {
	ctx := context.Background()
	const n = 70000
	ref := newRefTreeOf(testEntries(n))
	for _, start := range []uint64{0, 1, 255, 256, 300, 65535, 65536, 66000} {
		var r tiles.TileReader
		if start > 0 {
			r = &refTileReader{ref: ref, size: start}
		}
		b, err := tiles.NewBuilder(ctx, start, r)
		if err != nil {
			t.Fatalf("NewBuilder(%d): %v", start, err)
		}
		full := map[tiles.Tile][]tiles.Hash{}
		for i := start; i < n; i++ {
			b.Append(ref.leaf(i), func(tl tiles.Tile, hs []tiles.Hash) {
				if _, dup := full[tl]; dup {
					t.Fatalf("tile %s completed twice", tl.Path())
				}
				full[tl] = slices.Clone(hs)
			})
			if b.Size() != i+1 {
				t.Fatalf("Size() = %d after %d leaves", b.Size(), i+1)
			}
			if i+1 == 65536 || i+1 == 600 {
				if got, want := b.Root(), ref.root(i+1); got != want {
					t.Fatalf("start %d: Root() at %d = %s, want %s", start, i+1, got, want)
				}
			}
		}
		// Every tile completed after start, and nothing else, was handed over.
		for tl, hs := range ref.tilesOf(n) {
			old := refTileOK(tl, start) || (tl.Index+1)*256<<(8*uint(tl.Level)) <= start
			if tl.Width < 256 || old {
				if _, ok := full[tl]; ok {
					t.Errorf("start %d: Builder completed %s", start, tl.Path())
				}
				continue
			}
			if got, ok := full[tl]; !ok || !slices.Equal(got, hs) {
				t.Errorf("start %d: full tile %s = %v (present %v)", start, tl.Path(), len(got), ok)
			}
			delete(full, tl)
		}
		if len(full) != 0 {
			t.Errorf("start %d: Builder completed %d tiles that the tree does not have", start, len(full))
		}
		edge := b.Edge()
		var want []tiles.Tile
		for tl, hs := range ref.tilesOf(n) {
			if tl.Width < 256 {
				want = append(want, tl)
				if !slices.Equal(edge[tl], hs) {
					t.Errorf("start %d: Edge()[%s] differs", start, tl.Path())
				}
			}
		}
		if len(edge) != len(want) {
			t.Errorf("start %d: Edge() has %d tiles, want %d", start, len(edge), len(want))
		}
		if got, want := b.Root(), ref.root(n); got != want {
			t.Errorf("start %d: Root() = %s, want %s", start, got, want)
		}
	}
	if b, err := tiles.NewBuilder(ctx, 0, nil); err != nil || b.Root() != tiles.EmptyRoot || len(b.Edge()) != 0 {
		t.Errorf("empty Builder: %v", err)
	}
	if _, err := tiles.NewBuilder(ctx, 300, mapTileReader{}); err == nil {
		t.Error("NewBuilder without its edge tiles succeeded")
	}
}
