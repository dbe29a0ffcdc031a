package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// Pruned returns how far the log is pruned (ledger.Pruner), from
// log_pruned.
func (s *Storage) Pruned(ctx context.Context) (tiles.Pruned, error) {
	p, _, err := s.DeletedBelow(ctx)
	return p, err
}

// DeletedBelow returns the recorded minimum index and archive, and how far
// the bundles kept outside the database (by the bucket driver) are
// deleted: those of the entries below the second value are.
func (s *Storage) DeletedBelow(ctx context.Context) (tiles.Pruned, uint64, error) {
	var minimum, deleted int64
	var archive []byte
	err := s.pool.QueryRow(ctx, `SELECT minimum_index, archive, deleted_below FROM log_pruned`).Scan(&minimum, &archive, &deleted)
	if err != nil {
		return tiles.Pruned{}, 0, fmt.Errorf("couldn't read the minimum index: %w", err)
	}
	p := tiles.Pruned{MinimumIndex: uint64(minimum)} // CHECKs keep both non-negative
	if archive != nil {
		if err := json.Unmarshal(archive, &p.Archive); err != nil {
			return tiles.Pruned{}, 0, fmt.Errorf("the recorded archive pointer is corrupt: %w", err)
		}
	}
	return p, uint64(deleted), nil
}

// Prune records p and deletes the bundles it refuses in one transaction,
// through the SQL function log_prune, which records who pruned what and
// when in log_prunes (ledger.Pruner). The table's triggers refuse every
// other DELETE of an entry bundle.
func (s *Storage) Prune(ctx context.Context, p tiles.Pruned) error {
	st, err := s.State(ctx)
	if err != nil {
		return err
	}
	old, err := s.Pruned(ctx)
	if err != nil {
		return err
	}
	if err := ledger.CheckPrune(old, p, st.Size); err != nil {
		return err
	}
	var archive []byte
	if p.Archive != nil {
		if archive, err = json.Marshal(p.Archive); err != nil {
			return err
		}
	}
	m, err := toInt64(p.MinimumIndex)
	if err != nil {
		return fmt.Errorf("%w: %w", ledger.ErrPrune, err)
	}
	var deleted int64
	err = s.pool.QueryRow(ctx, `SELECT log_prune($1, $2)`, m, archive).Scan(&deleted)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22023" { // invalid_parameter_value: another instance moved it since
		return fmt.Errorf("%w: %s", ledger.ErrPrune, pgErr.Message)
	}
	if err != nil {
		return fmt.Errorf("couldn't prune to minimum index %d: %w", p.MinimumIndex, err)
	}
	s.log.Info("pruned the log", "minimum_index", p.MinimumIndex, "previous_minimum_index", old.MinimumIndex, "bundles_deleted", deleted)
	return nil
}

// SetDeletedBelow records that the bundles kept outside the database are
// deleted below index (at most the minimum index; never lowered).
func (s *Storage) SetDeletedBelow(ctx context.Context, index uint64) error {
	i, err := toInt64(index)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE log_pruned SET deleted_below = $1 WHERE deleted_below < $1`, i); err != nil {
		return fmt.Errorf("couldn't record the deletion of the pruned bundles below %d: %w", index, err)
	}
	return nil
}

// prunedBundle returns the error of ReadTile for bundle t, which the
// database does not hold: a *tiles.PrunedError if the log pruned it, else
// tiles.ErrNotFound.
func (s *Storage) prunedBundle(ctx context.Context, t tiles.Tile) error {
	p, err := s.Pruned(ctx)
	if err != nil {
		return err
	}
	if p.Refuses(t) {
		return &tiles.PrunedError{Path: t.Path(), Pruned: p}
	}
	return fmt.Errorf("%s: %w", t.Path(), tiles.ErrNotFound)
}
