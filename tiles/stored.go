package tiles

import (
	"context"
	"fmt"
)

// RawTileReader reads the bytes of hash tiles and entry bundles from a log's
// own storage: what a log server, or a process sharing its storage, reads.
//
// ReadTile returns the stored bytes of tile t (an entry bundle if t.Entries),
// or an error that names t and wraps ErrNotFound if it is not stored. Unlike
// a Fetcher's, what it returns is trusted: nothing authenticates it.
type RawTileReader interface {
	ReadTile(ctx context.Context, t Tile) ([]byte, error)
}

// HashTiles returns the TileReader that reads hash tiles from r and decodes
// them, for NewBuilder and the proof functions. An error from r is returned
// as it is; a stored tile that does not decode to t.Width hashes is an
// error naming it.
func HashTiles(r RawTileReader) TileReader { return hashTiles{r} }

type hashTiles struct{ r RawTileReader }

func (h hashTiles) ReadTile(ctx context.Context, t Tile) ([]Hash, error) {
	b, err := h.r.ReadTile(ctx, t)
	if err != nil {
		return nil, err
	}
	hs, err := ParseHashTile(b, t.Width)
	if err != nil {
		return nil, fmt.Errorf("stored tile %s: %w", t.Path(), err)
	}
	return hs, nil
}

// ReadEntryBundle reads entry bundle t from r and decodes it into its
// t.Width entries, which alias what r returned.
func ReadEntryBundle(ctx context.Context, r RawTileReader, t Tile) ([][]byte, error) {
	b, err := r.ReadTile(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("couldn't read entry bundle %s: %w", t.Path(), err)
	}
	entries, err := ParseEntryBundle(b, t.Width)
	if err != nil {
		return nil, fmt.Errorf("stored entry bundle %s: %w", t.Path(), err)
	}
	return entries, nil
}
