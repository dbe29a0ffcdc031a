package tiles

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TileReader reads hash tiles.
//
// ReadTile returns the t.Width hashes of hash tile t. Proofs built from a
// TileReader are only as trustworthy as its tiles: a Tree authenticates every
// tile against a verified checkpoint before returning it; a log server reads
// its own committed storage.
type TileReader interface {
	ReadTile(ctx context.Context, t Tile) ([]Hash, error)
}

// ErrProof is returned (wrapped) when a proof does not verify.
var ErrProof = errors.New("proof does not verify")

// InclusionProof returns the RFC 6962 inclusion proof of leaf index in the
// tree of size leaves, reading the nodes it needs from hash tiles.
func InclusionProof(ctx context.Context, r TileReader, index, size uint64) ([]Hash, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return rehash(ctx, r, nodes, size)
}

// ConsistencyProof returns the RFC 6962 consistency proof from the tree of
// old leaves to the tree of size leaves, reading the nodes it needs from hash
// tiles. It is empty when old is 0 or equal to size.
func ConsistencyProof(ctx context.Context, r TileReader, old, size uint64) ([]Hash, error) {
	nodes, err := proof.Consistency(old, size)
	if err != nil {
		return nil, err
	}
	return rehash(ctx, r, nodes, size)
}

func rehash(ctx context.Context, r TileReader, nodes proof.Nodes, size uint64) ([]Hash, error) {
	hs, err := readNodes(ctx, r, nodes.IDs, size)
	if err != nil {
		return nil, err
	}
	out, err := nodes.Rehash(hashSlices(hs), rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		return nil, err
	}
	p := make([]Hash, len(out))
	for i, h := range out {
		p[i] = mustHash(h)
	}
	return p, nil
}

// readNodes returns the hashes of tree nodes, each computed from the tile that
// holds its subtree's bottom row. Each tile is read once.
func readNodes(ctx context.Context, r TileReader, ids []compact.NodeID, size uint64) ([]Hash, error) {
	cache := map[Tile][]Hash{}
	out := make([]Hash, len(ids))
	for i, id := range ids {
		t, off, width, err := nodeTile(id, size)
		if err != nil {
			return nil, err
		}
		hs, ok := cache[t]
		if !ok {
			if hs, err = r.ReadTile(ctx, t); err != nil {
				return nil, err
			}
			if len(hs) != int(t.Width) {
				return nil, fmt.Errorf("tile %s has %d hashes, want %d", t.Path(), len(hs), t.Width)
			}
			cache[t] = hs
		}
		out[i] = subtreeRoot(hs[off : off+width])
	}
	return out, nil
}

// nodeTile locates tree node id of a tree of size leaves: the tile whose
// bottom row holds the node's subtree, and the offset and width of that
// subtree in the row.
func nodeTile(id compact.NodeID, size uint64) (t Tile, off, width int, err error) {
	level := uint8(id.Level / TileHeight)
	depth := id.Level % TileHeight
	first := id.Index << depth
	t, ok := TileFor(level, first/TileWidth, size)
	off, width = int(first%TileWidth), 1<<depth
	if !ok || off+width > int(t.Width) || first>>depth != id.Index {
		return Tile{}, 0, 0, fmt.Errorf("node (level %d, index %d) is not in a tree of size %d", id.Level, id.Index, size)
	}
	return t, off, width, nil
}

// VerifyInclusion checks an inclusion proof of leaf hash leaf at index in the
// tree of size leaves with the given root.
func VerifyInclusion(leaf Hash, index, size uint64, p []Hash, root Hash) error {
	err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leaf[:], hashSlices(p), root[:])
	var mismatch proof.RootMismatchError
	if errors.As(err, &mismatch) {
		return fmt.Errorf("%w: inclusion of index %d in size %d: the proof leads to root %s, the tree's is %s",
			ErrProof, index, size, base64.StdEncoding.EncodeToString(mismatch.CalculatedRoot), root)
	}
	if err != nil {
		return fmt.Errorf("%w: inclusion of index %d in size %d: %v", ErrProof, index, size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree (size, root) is an append-only
// extension of the tree (oldSize, oldRoot). The two edge cases are explicit
// rather than left to the library, whose behaviour changed across versions:
// from the empty tree the proof must be empty and oldRoot the empty root; for
// equal sizes the proof must be empty and the roots equal.
func VerifyConsistency(oldSize uint64, oldRoot Hash, size uint64, root Hash, p []Hash) error {
	fail := func(why string) error {
		return fmt.Errorf("%w: consistency from size %d to %d: %s", ErrProof, oldSize, size, why)
	}
	switch {
	case oldSize > size:
		return fail("the new tree is smaller")
	case oldSize == 0:
		if len(p) != 0 {
			return fail("a proof from the empty tree must be empty")
		}
		if oldRoot != EmptyRoot {
			return fail("the empty tree has a root other than SHA-256 of nothing")
		}
		return nil
	case oldSize == size:
		if len(p) != 0 {
			return fail("a proof between equal sizes must be empty")
		}
		if oldRoot != root {
			return fail("equal sizes with different roots: the log forked")
		}
		return nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, oldSize, size, hashSlices(p), oldRoot[:], root[:]); err != nil {
		return fail(err.Error())
	}
	return nil
}
