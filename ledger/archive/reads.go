package archive

import (
	"context"
	"errors"
	"fmt"

	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/mirror"
	"github.com/ledger-dev/ledger/tiles"
)

// PrunedReads returns a TileReader that reads from hot, the log's own
// storage, and reads an entry bundle that hot refuses as pruned (an error
// wrapping a *tiles.PrunedError) from the archive in target instead. The
// archived bundle is checked against hot's level-0 hash tile, which
// pruning keeps: a bundle that does not hash to it is an error wrapping
// tiles.ErrTampered, never an answer; one the archive does not hold is
// answered with hot's error. Every other read, and every other error, is
// hot's.
func PrunedReads(hot TileReader, target blob.Store) TileReader {
	return prunedReads{hot: hot, archive: mirror.Fetcher(target)}
}

type prunedReads struct {
	hot     TileReader
	archive tiles.Fetcher
}

func (p prunedReads) ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error) {
	b, err := p.hot.ReadTile(ctx, t)
	var pe *tiles.PrunedError
	if err == nil || !t.Entries || !errors.As(err, &pe) {
		return b, err
	}
	ht := t
	ht.Entries = false
	// The full tile stands in for a partial one the log has collected.
	raw, herr := tiles.FetchTile(ctx, source{r: p.hot}, ht)
	if herr != nil {
		return nil, fmt.Errorf("%w; and its hash tile: %w", err, herr)
	}
	leaves, herr := tiles.ParseHashTile(raw, t.Width)
	if herr != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", ht.Path(), herr)
	}
	b, aerr := tiles.FetchTile(ctx, p.archive, t)
	if errors.Is(aerr, tiles.ErrNotFound) {
		return nil, err // not archived: the log's answer, which says where it is
	}
	if aerr != nil {
		return nil, fmt.Errorf("%w; reading it from the archive: %w", err, aerr)
	}
	entries, aerr := tiles.ParseEntryBundle(b, t.Width)
	if aerr != nil {
		return nil, fmt.Errorf("%w: the archive's %s: %v", tiles.ErrTampered, t.Path(), aerr)
	}
	for i, e := range entries {
		if tiles.LeafHash(e) != leaves[i] {
			return nil, fmt.Errorf("%w: entry %d of the archive's %s does not match the log's %s", tiles.ErrTampered, t.Index*tiles.TileWidth+uint64(i), t.Path(), ht.Path())
		}
	}
	return b, nil
}
