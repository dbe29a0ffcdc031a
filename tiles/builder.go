package tiles

import (
	"context"
	"fmt"
)

// Builder grows a tree one leaf hash at a time and produces its hash tiles.
// It holds only the tree's right edge: one row of at most 255 hashes per
// level, the contents of the partial tiles. Every time a tile fills up it is
// handed to the caller, and its root moves up into the row above.
type Builder struct {
	size uint64
	rows [][]Hash // rows[l]: the hashes of the partial tile at level l
}

// NewBuilder returns a Builder for a tree of size leaves whose partial tiles
// r serves (see EdgeTiles); a new tree has size 0 and needs no reader.
func NewBuilder(ctx context.Context, size uint64, r TileReader) (*Builder, error) {
	b := &Builder{size: size}
	for _, t := range EdgeTiles(size) {
		hs, err := r.ReadTile(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("couldn't read edge tile %s: %w", t.Path(), err)
		}
		if len(hs) != int(t.Width) {
			return nil, fmt.Errorf("edge tile %s has %d hashes, want %d", t.Path(), len(hs), t.Width)
		}
		b.grow(int(t.Level))
		b.rows[t.Level] = append(b.rows[t.Level][:0], hs...)
	}
	return b, nil
}

// Size returns the number of leaves appended so far.
func (b *Builder) Size() uint64 { return b.size }

func (b *Builder) grow(level int) {
	for len(b.rows) <= level {
		b.rows = append(b.rows, make([]Hash, 0, TileWidth))
	}
}

// Append adds a leaf hash. For every tile the leaf completes, lowest level
// first, full is called with the tile and its 256 hashes; the slice is reused
// after full returns.
func (b *Builder) Append(leaf Hash, full func(Tile, []Hash)) {
	h := leaf
	for level := 0; ; level++ {
		b.grow(level)
		b.rows[level] = append(b.rows[level], h)
		if len(b.rows[level]) < TileWidth {
			break
		}
		index := (b.size >> (uint(level) * TileHeight)) / TileWidth
		full(Tile{Level: uint8(level), Index: index, Width: TileWidth}, b.rows[level])
		h = subtreeRoot(b.rows[level])
		b.rows[level] = b.rows[level][:0]
	}
	b.size++
}

// Edge returns the partial tiles of the tree and their hashes: what a log
// must serve for this size besides the full tiles. The slices are copies.
func (b *Builder) Edge() map[Tile][]Hash {
	edge := map[Tile][]Hash{}
	for _, t := range EdgeTiles(b.size) {
		edge[t] = append([]Hash(nil), b.rows[t.Level]...)
	}
	return edge
}

// Root returns the tree's root hash.
func (b *Builder) Root() Hash {
	root, err := RootFromEdge(b.size, edgeTiles(b.Edge()))
	if err != nil {
		panic(fmt.Sprintf("tiles: builder edge is inconsistent: %v", err))
	}
	return root
}
