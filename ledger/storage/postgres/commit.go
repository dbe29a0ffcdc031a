package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// Commit makes the flush durable in one transaction: it first moves the
// committed state from f.Old to f.New with a compare-and-swap, then inserts
// the flush's tiles, bundles and keys (f.Keys, into log_keys), then commits.
// It returns ledger.ErrConflict, and changes nothing, when the committed
// state is not f.Old, and an error wrapping ErrKeyLogged, changing nothing,
// when a key of f.Keys is already in the log.
//
// Swapping first makes the CAS impossible to race: the UPDATE takes the
// state row's lock, so a second writer's UPDATE waits for the first
// transaction to end, then re-reads the row, finds the size and root moved,
// and matches nothing. It also means the tile inserts run under the lock,
// so two writers never insert at once.
//
// A flush may hold tiles the committed tree already has (edge tiles that did
// not change): inserting them again is harmless, and they must carry the
// committed bytes. A different byte anywhere fails the commit: a committed
// tile, full or partial, never changes.
func (s *Storage) Commit(ctx context.Context, f *ledger.Flush) error {
	return s.commit(ctx, f, nil)
}

// CommitWith is Commit for a log whose tiles and bundles live outside the
// database (the bucket driver): it inserts none of f.Tiles, and once the
// compare-and-swap holds the state row's lock it calls write, which makes
// them durable elsewhere; the transaction commits only if write returns
// nil. So write runs for one writer of the log at a time, and only for a
// flush that extends the committed state.
func (s *Storage) CommitWith(ctx context.Context, f *ledger.Flush, write func(context.Context) error) error {
	if write == nil {
		return errors.New("postgres: CommitWith needs a write function")
	}
	return s.commit(ctx, f, write)
}

func (s *Storage) commit(ctx context.Context, f *ledger.Flush, write func(context.Context) error) error {
	rows, err := rowsOf(f, write == nil)
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("couldn't begin the commit of size %d: %w", f.New.Size, err)
	}
	defer tx.Rollback(context.Background()) // a no-op after Commit
	swapped, err := swapState(ctx, tx, f.Old, f.New)
	if err != nil {
		return err
	}
	if !swapped {
		return ledger.ErrConflict
	}
	// At this point this transaction holds the state row's lock, and nobody
	// else sees f.New: a crash (of this process, its connection or the
	// server) aborts the transaction and leaves f.Old committed.
	if write != nil {
		if err := write(ctx); err != nil {
			return fmt.Errorf("couldn't write the tiles of size %d: %w", f.New.Size, err)
		}
		// At this point the tiles are durable outside the database, and
		// the committed state still says f.Old: a crash leaves them as
		// garbage beyond the committed tree, which the next flush that
		// reaches them replaces.
	}
	if err := rows.insert(ctx, tx); err != nil {
		return err
	}
	// At this point the tiles are written in the same uncommitted
	// transaction: a crash still leaves f.Old committed, with none of them.
	if err := tx.Commit(ctx); err != nil {
		// The commit may have reached the server's WAL before the error (a
		// connection lost while PostgreSQL answered): the committed state
		// is f.Old or f.New, and the caller asks State which.
		return fmt.Errorf("couldn't commit size %d: %w", f.New.Size, err)
	}
	// At this point f.New and its tiles are committed: with
	// synchronous_commit on (Open refuses off), PostgreSQL flushed the
	// commit to its WAL before it answered, so they survive a crash of
	// either process.
	return nil
}

// swapState moves the committed state from old to new, reporting false when
// the committed state is not old. A new log has no state row: the zero old
// state swaps by inserting it, and a concurrent insert makes all but one of
// them find the row taken.
func swapState(ctx context.Context, tx pgx.Tx, old, new ledger.State) (bool, error) {
	size, err := toInt64(new.Size)
	if err != nil {
		return false, err
	}
	if new.Checkpoint == nil {
		return false, fmt.Errorf("flush to size %d has no checkpoint", new.Size)
	}
	var sql string
	args := []any{size, new.Root[:], new.Checkpoint}
	if old.Size == 0 && old.Root == (tiles.Hash{}) {
		sql = `INSERT INTO log_state (size, root, checkpoint) VALUES ($1, $2, $3) ON CONFLICT (only_row) DO NOTHING`
	} else {
		oldSize, err := toInt64(old.Size)
		if err != nil {
			return false, err
		}
		sql = `UPDATE log_state SET size = $1, root = $2, checkpoint = $3, committed_at = now()
			WHERE size = $4 AND root = $5`
		args = append(args, oldSize, old.Root[:])
	}
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return false, fmt.Errorf("couldn't swap the committed state from size %d to %d: %w", old.Size, new.Size, err)
	}
	return tag.RowsAffected() == 1, nil
}

// tileRows are a flush's tiles and bundles as columns, for unnest.
type tileRows struct {
	levels, widths []int16
	idxs           []int64
	data           [][]byte
}

func (r *tileRows) add(t tiles.Tile, data []byte) error {
	idx, err := toInt64(t.Index)
	if err != nil {
		return fmt.Errorf("tile %s: %w", t.Path(), err)
	}
	r.levels = append(r.levels, int16(t.Level))
	r.idxs = append(r.idxs, idx)
	r.widths = append(r.widths, int16(t.Width))
	r.data = append(r.data, data)
	return nil
}

// flushRows holds the rows one flush inserts.
type flushRows struct {
	hashTiles, bundles tileRows
	keys               keyRows
}

// rowsOf returns the rows of f: its keys, and its tiles and bundles if
// withTiles is set.
func rowsOf(f *ledger.Flush, withTiles bool) (*flushRows, error) {
	var r flushRows
	var err error
	if r.keys, err = keyRowsOf(f.Keys); err != nil {
		return nil, fmt.Errorf("flush to size %d: %w", f.New.Size, err)
	}
	if !withTiles {
		return &r, nil
	}
	for t, data := range f.Tiles {
		if t.Width == 0 || t.Width > tiles.TileWidth || t.Level > tiles.MaxLevel || (t.Entries && t.Level != 0) {
			return nil, fmt.Errorf("flush holds an invalid tile %+v", t)
		}
		rows := &r.hashTiles
		if t.Entries {
			rows = &r.bundles
		}
		if err := rows.add(t, data); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

// The inserts skip rows that exist, and return the keys of those whose
// stored bytes differ from the flush's. The final SELECT sees the tables as
// they were before the statement (all parts of a statement share one
// snapshot), so it compares against committed rows only.
const (
	insertTiles = `WITH input AS (
			SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::smallint[], $4::bytea[]) AS i(level, idx, width, data)
		), inserted AS (
			INSERT INTO log_tiles (level, idx, width, data) SELECT level, idx, width, data FROM input
			ON CONFLICT DO NOTHING
		)
		SELECT i.level, i.idx, i.width FROM input i JOIN log_tiles t USING (level, idx, width)
		WHERE t.data <> i.data`
	insertBundles = `WITH input AS (
			SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bytea[]) AS i(idx, width, data)
		), inserted AS (
			INSERT INTO log_bundles (idx, width, data) SELECT idx, width, data FROM input
			ON CONFLICT DO NOTHING
		)
		SELECT 0::smallint, i.idx, i.width FROM input i JOIN log_bundles b USING (idx, width)
		WHERE b.data <> i.data`
)

// insert writes the rows in one round trip, and fails if any of them would
// change a committed tile or log a key twice.
func (r *flushRows) insert(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	b.Queue(insertTiles, r.hashTiles.levels, r.hashTiles.idxs, r.hashTiles.widths, r.hashTiles.data)
	b.Queue(insertBundles, r.bundles.idxs, r.bundles.widths, r.bundles.data)
	if len(r.keys.keys) > 0 {
		b.Queue(insertKeys, r.keys.keys, r.keys.idxs, r.keys.hashes)
	}
	results := tx.SendBatch(ctx, b)
	defer results.Close()
	for _, entries := range []bool{false, true} {
		changed, err := changedTiles(results, entries)
		if err != nil {
			return err
		}
		if len(changed) > 0 {
			return fmt.Errorf("flush holds %s with bytes other than the committed ones (and %d more): committed tiles never change",
				changed[0].Path(), len(changed)-1)
		}
	}
	if len(r.keys.keys) > 0 {
		if _, err := results.Exec(); err != nil {
			return keysErr(err)
		}
	}
	return results.Close()
}

func changedTiles(results pgx.BatchResults, entries bool) ([]tiles.Tile, error) {
	rows, err := results.Query()
	if err != nil {
		return nil, fmt.Errorf("couldn't insert tiles: %w", err)
	}
	var changed []tiles.Tile
	var level, width int16
	var idx int64
	_, err = pgx.ForEachRow(rows, []any{&level, &idx, &width}, func() error {
		changed = append(changed, tiles.Tile{Level: uint8(level), Index: uint64(idx), Width: uint16(width), Entries: entries})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't insert tiles: %w", err)
	}
	return changed, nil
}
