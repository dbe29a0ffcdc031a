package tiles

import (
	"context"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Tree reads the tiles of one verified checkpoint through an untrusted
// Fetcher and authenticates every tile before using it:
//
//   - the partial tiles at the right edge of the tree are authenticated
//     together, by recomputing the checkpoint's root hash from them;
//   - a full tile is authenticated by its hash, which must equal the entry for
//     it in its (authenticated) parent tile one level up;
//   - an entry bundle is authenticated by the leaf hashes in its level-0 tile.
//
// Only tiles that exist in the checkpoint's tree are ever requested. A Tree is
// safe for concurrent use.
type Tree struct {
	f  Fetcher
	cp Checkpoint

	mu    sync.Mutex
	tiles map[Tile][]Hash // authenticated hash tiles
}

// NewTree returns a Tree over the tiles of cp, which the caller has verified.
func NewTree(f Fetcher, cp Checkpoint) *Tree {
	return &Tree{f: f, cp: cp, tiles: map[Tile][]Hash{}}
}

// Checkpoint returns the checkpoint the tree is bound to.
func (t *Tree) Checkpoint() Checkpoint { return t.cp }

// ReadTile returns the authenticated hashes of hash tile tl, which must exist
// in the tree with exactly its width.
func (t *Tree) ReadTile(ctx context.Context, tl Tile) ([]Hash, error) {
	want, ok := TileFor(tl.Level, tl.Index, t.cp.Size)
	if !ok || tl.Entries || want != tl {
		return nil, fmt.Errorf("tile %s is not part of the tree of size %d", tl.Path(), t.cp.Size)
	}
	t.mu.Lock()
	hs, ok := t.tiles[tl]
	t.mu.Unlock()
	if ok {
		return hs, nil
	}
	if !tl.Full() {
		if err := t.authenticateEdge(ctx); err != nil {
			return nil, err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.tiles[tl], nil
	}
	hs, err := fetchHashTile(ctx, t.f, tl)
	if err != nil {
		return nil, err
	}
	parentTile, _ := TileFor(tl.Level+1, tl.Index/TileWidth, t.cp.Size)
	parent, err := t.ReadTile(ctx, parentTile)
	if err != nil {
		return nil, err
	}
	if got, want := subtreeRoot(hs), parent[tl.Index%TileWidth]; got != want {
		return nil, fmt.Errorf("%w: tile %s hashes to %s, but its parent tile %s says %s", ErrTampered, tl.Path(), got, parentTile.Path(), want)
	}
	t.mu.Lock()
	t.tiles[tl] = hs
	t.mu.Unlock()
	return hs, nil
}

// authenticateEdge fetches every partial tile of the tree and checks that
// they recompute the checkpoint's root hash.
func (t *Tree) authenticateEdge(ctx context.Context) error {
	edge := edgeTiles{}
	for _, tl := range EdgeTiles(t.cp.Size) {
		hs, err := fetchHashTile(ctx, t.f, tl)
		if err != nil {
			return err
		}
		edge[tl] = hs
	}
	root, err := RootFromEdge(t.cp.Size, edge)
	if err != nil {
		return err
	}
	if root != t.cp.Hash {
		return fmt.Errorf("%w: the partial tiles of size %d recompute root %s, but the checkpoint says %s", ErrTampered, t.cp.Size, root, t.cp.Hash)
	}
	t.mu.Lock()
	for tl, hs := range edge {
		t.tiles[tl] = hs
	}
	t.mu.Unlock()
	return nil
}

// fetchHashTile fetches and decodes hash tile tl (not yet authenticated).
func fetchHashTile(ctx context.Context, f Fetcher, tl Tile) ([]Hash, error) {
	b, err := FetchTile(ctx, f, tl)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch tile %s: %w", tl.Path(), err)
	}
	hs, err := ParseHashTile(b, tl.Width)
	if err != nil {
		return nil, fmt.Errorf("%w: tile %s: %v", ErrTampered, tl.Path(), err)
	}
	return hs, nil
}

// edgeTiles serves the right-edge tiles of a tree from memory.
type edgeTiles map[Tile][]Hash

func (e edgeTiles) ReadTile(_ context.Context, tl Tile) ([]Hash, error) {
	hs, ok := e[tl]
	if !ok {
		return nil, fmt.Errorf("tile %s is not on the tree's right edge", tl.Path())
	}
	return hs, nil
}

// RootFromEdge computes the root hash of a tree of size leaves from its
// partial tiles (see EdgeTiles), which r must serve.
func RootFromEdge(size uint64, r TileReader) (Hash, error) {
	if size == 0 {
		return EmptyRoot, nil
	}
	ids := compact.RangeNodes(0, size, nil)
	hs, err := readNodes(context.Background(), r, ids, size)
	if err != nil {
		return Hash{}, err
	}
	rng, err := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewRange(0, size, hashSlices(hs))
	if err != nil {
		return Hash{}, err
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return Hash{}, err
	}
	return mustHash(root), nil
}

// Bundle returns the authenticated entries of entry bundle n.
func (t *Tree) Bundle(ctx context.Context, n uint64) ([][]byte, error) {
	bt, ok := BundleFor(n, t.cp.Size)
	if !ok {
		return nil, fmt.Errorf("entry bundle %d is not part of the tree of size %d", n, t.cp.Size)
	}
	ht := bt
	ht.Entries = false
	leaves, err := t.ReadTile(ctx, ht)
	if err != nil {
		return nil, err
	}
	b, err := FetchTile(ctx, t.f, bt)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch entry bundle %s: %w", bt.Path(), err)
	}
	entries, err := ParseEntryBundle(b, bt.Width)
	if err != nil {
		return nil, fmt.Errorf("%w: entry bundle %s: %v", ErrTampered, bt.Path(), err)
	}
	for i, e := range entries {
		if LeafHash(e) != leaves[i] {
			return nil, fmt.Errorf("%w: entry %d in bundle %s does not match its leaf hash in tile %s", ErrTampered, n*TileWidth+uint64(i), bt.Path(), ht.Path())
		}
	}
	return entries, nil
}

// Entry returns the authenticated entry at index.
func (t *Tree) Entry(ctx context.Context, index uint64) ([]byte, error) {
	if index >= t.cp.Size {
		return nil, fmt.Errorf("index %d is beyond the tree size %d", index, t.cp.Size)
	}
	entries, err := t.Bundle(ctx, index/TileWidth)
	if err != nil {
		return nil, err
	}
	return entries[index%TileWidth], nil
}

// LeafHash returns the authenticated leaf hash at index.
func (t *Tree) LeafHash(ctx context.Context, index uint64) (Hash, error) {
	if index >= t.cp.Size {
		return Hash{}, fmt.Errorf("index %d is beyond the tree size %d", index, t.cp.Size)
	}
	tl, _ := TileFor(0, index/TileWidth, t.cp.Size)
	hs, err := t.ReadTile(ctx, tl)
	if err != nil {
		return Hash{}, err
	}
	return hs[index%TileWidth], nil
}

// InclusionProof returns the inclusion proof of index, built from
// authenticated tiles and checked against the checkpoint before it is returned.
func (t *Tree) InclusionProof(ctx context.Context, index uint64, leaf Hash) ([]Hash, error) {
	p, err := InclusionProof(ctx, t, index, t.cp.Size)
	if err != nil {
		return nil, err
	}
	if err := VerifyInclusion(leaf, index, t.cp.Size, p, t.cp.Hash); err != nil {
		return nil, err
	}
	return p, nil
}

// ProveConsistency checks that the tree is an append-only extension of old,
// with a proof built from the tree's authenticated tiles.
func (t *Tree) ProveConsistency(ctx context.Context, old Checkpoint) ([]Hash, error) {
	if old.Origin != t.cp.Origin {
		return nil, fmt.Errorf("checkpoints are from different logs: %q and %q", old.Origin, t.cp.Origin)
	}
	if old.Size > t.cp.Size {
		return nil, fmt.Errorf("%w: consistency from size %d to %d: the log shrank", ErrProof, old.Size, t.cp.Size)
	}
	p, err := ConsistencyProof(ctx, t, old.Size, t.cp.Size)
	if err != nil {
		return nil, err
	}
	if err := VerifyConsistency(old.Size, old.Hash, t.cp.Size, t.cp.Hash, p); err != nil {
		return nil, err
	}
	return p, nil
}
