package httpapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/tiles"
)

// storageTiles marks the read errors of a TileReader as ledger.ErrStorage,
// except a missing tile: what the error mapper answers with 503 and
// Retry-After, without the error's text (it names server paths).
// It also refuses what the Integrity check refuses.
type storageTiles struct {
	r         TileReader
	integrity interface{ Check(tiles.Tile) error }
}

func (s storageTiles) ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error) {
	if s.integrity != nil {
		if err := s.integrity.Check(t); err != nil {
			return nil, err
		}
	}
	b, err := s.r.ReadTile(ctx, t)
	if errors.Is(err, tiles.ErrNotFound) || errors.Is(err, tiles.ErrPruned) {
		return nil, err
	}
	return b, unavailable(ctx, err)
}

// storageIndex marks the errors of an Index as ledger.ErrStorage, as
// storageTiles does: the index checks no input of its callers, so every
// error it returns is its storage failing.
type storageIndex struct{ i Index }

func (s storageIndex) Query(ctx context.Context, q index.Query) ([]index.Row, error) {
	rows, err := s.i.Query(ctx, q)
	return rows, unavailable(ctx, err)
}

func (s storageIndex) Failures(ctx context.Context, q index.FailureQuery) ([]index.Failure, error) {
	fs, err := s.i.Failures(ctx, q)
	return fs, unavailable(ctx, err)
}

// unavailable wraps err, unless nil or the request's end, in
// ledger.ErrStorage.
func unavailable(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%w: %w", ledger.ErrStorage, err)
}
