package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// backfillBundles is how many entry bundles one backfill transaction covers.
const backfillBundles = 64

// ErrBackfill is returned by Open for a log whose entries predate its key
// index when Config.KeyOf is nil: their keys cannot be filled in.
var ErrBackfill = errors.New("postgres: the log has entries committed before its key index existed; " +
	"Config.KeyOf is needed to fill in their keys")

// backfill fills in log_keys with the keys of the entries committed before
// the table existed (log_keys_backfill says which), a batch of bundles per
// transaction, so that a crash loses at most one batch of work. Instances
// opening at once take turns on the row lock; the second finds the work
// done.
func (s *Storage) backfill(ctx context.Context) error {
	for {
		done, err := s.backfillStep(ctx)
		if err != nil || done {
			return err
		}
	}
}

// backfillStep fills in one batch, reporting whether nothing is left.
func (s *Storage) backfillStep(ctx context.Context) (done bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("couldn't begin filling in the key index: %w", err)
	}
	defer tx.Rollback(context.Background()) // a no-op after Commit
	var from, upto int64
	if err := tx.QueryRow(ctx, `SELECT size, upto FROM log_keys_backfill FOR UPDATE`).Scan(&from, &upto); err != nil {
		return false, fmt.Errorf("couldn't read how far the key index is filled in: %w", err)
	}
	if from >= upto {
		return true, nil
	}
	if s.keyOf == nil {
		return false, fmt.Errorf("%w (%d of them, from entry %d on)", ErrBackfill, upto-from, from)
	}
	to := min(uint64(upto), (uint64(from)/tiles.TileWidth+backfillBundles)*tiles.TileWidth)
	recs, err := s.keysOf(ctx, uint64(from), to, uint64(upto))
	if err != nil {
		return false, err
	}
	rows, err := keyRowsOf(recs)
	if err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, backfillKeys, rows.keys, rows.idxs, rows.hashes)
	if err != nil {
		return false, fmt.Errorf("couldn't fill in the keys of entries %d to %d: %w", from, to, err)
	}
	if skipped := int64(len(recs)) - tag.RowsAffected(); skipped > 0 {
		s.log.Warn("entries logged before the key index existed repeat an earlier entry's key; the first keeps it",
			"entries", skipped, "from", from, "to", to)
	}
	if _, err := tx.Exec(ctx, `UPDATE log_keys_backfill SET size = $1`, int64(to)); err != nil {
		return false, fmt.Errorf("couldn't record how far the key index is filled in: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("couldn't commit the keys of entries %d to %d: %w", from, to, err)
	}
	s.log.Info("filled in the key index", "size", to, "of", upto)
	return false, nil
}

// keysOf returns the key records of entries [from, to) of the log of
// size entries, read from the stored bundles.
func (s *Storage) keysOf(ctx context.Context, from, to, size uint64) ([]ledger.KeyRecord, error) {
	var recs []ledger.KeyRecord
	for n := from / tiles.TileWidth; n*tiles.TileWidth < to; n++ {
		bt, _ := tiles.BundleFor(n, size)
		entries, err := tiles.ReadEntryBundle(ctx, s, bt)
		if err != nil {
			return nil, fmt.Errorf("couldn't read entry bundle %d to fill in its keys: %w", n, err)
		}
		for j, leaf := range entries {
			i := n*tiles.TileWidth + uint64(j)
			if i < from || i >= to {
				continue
			}
			key, err := s.keyOf(leaf)
			if err != nil {
				return nil, fmt.Errorf("couldn't read the key of entry %d: %w", i, err)
			}
			if key != "" {
				recs = append(recs, ledger.KeyRecord{Key: key, Index: i, Hash: tiles.LeafHash(leaf)})
			}
		}
	}
	return recs, nil
}
