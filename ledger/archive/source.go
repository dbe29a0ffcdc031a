package archive

import (
	"context"
	"fmt"

	"github.com/ledger-dev/ledger/tiles"
)

// TileReader reads the stored bytes of a log's tiles and bundles (a
// storage driver).
type TileReader interface {
	ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error)
}

// Source returns the Fetcher of a log that a ledger serves: the checkpoint
// that published returns (the signed note the ledger publishes now), and
// every tile and bundle from r.
func Source(r TileReader, published func() []byte) tiles.Fetcher {
	return source{r: r, published: published}
}

type source struct {
	r         TileReader
	published func() []byte
}

func (s source) Fetch(ctx context.Context, path string) ([]byte, error) {
	if path == tiles.CheckpointPath && s.published != nil {
		if n := s.published(); len(n) > 0 {
			return n, nil
		}
		return nil, fmt.Errorf("the log has published no checkpoint yet: %w", tiles.ErrNotFound)
	}
	t, err := tiles.ParsePath(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, tiles.ErrNotFound)
	}
	return s.r.ReadTile(ctx, t)
}
