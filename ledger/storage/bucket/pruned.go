package bucket

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/tiles"
)

// Pruned returns how far the log is pruned (ledger.Pruner): the minimum
// index is recorded in the database, like the rest of the log's state.
func (s *Storage) Pruned(ctx context.Context) (tiles.Pruned, error) {
	p, err := s.db.Pruned(ctx)
	if err == nil {
		s.pruned.Store(&p)
	}
	return p, err
}

// Prune records p in the database (the postgres driver's log_prune, which
// checks it and records the prune in log_prunes), then completes it as
// Resume does (ledger.Pruner). A run that dies or fails after the first
// step is completed by Resume at the next start, or by the next Prune.
func (s *Storage) Prune(ctx context.Context, p tiles.Pruned) error {
	if err := s.db.Prune(ctx, p); err != nil {
		return err
	}
	// At this point p is recorded: every instance refuses the bundles it
	// covers (ReadTile), whether their objects are deleted yet or not.
	s.pruned.Store(&p)
	return s.Resume(ctx)
}

// Resume completes the prune the database records, if one was cut short:
// it writes the bucket's tiles.PrunedPath object for readers of the
// bucket, deletes the bundle objects the minimum index refuses, and records
// that they are deleted. When every refused bundle is already deleted it
// only rewrites the object. Several instances may run it at once: they
// delete the same objects.
func (s *Storage) Resume(ctx context.Context) error {
	rec, deleted, err := s.db.DeletedBelow(ctx)
	if err != nil {
		return err
	}
	if rec.MinimumIndex == 0 {
		return nil // never pruned
	}
	doc, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := s.objects.Put(ctx, tiles.PrunedPath, doc, blob.PutOptions{ContentType: "application/json", CacheControl: tiles.CheckpointCacheControl}); err != nil {
		return fmt.Errorf("couldn't write %s: %w", tiles.PrunedPath, err)
	}
	if deleted >= rec.MinimumIndex {
		return nil
	}
	if err := s.deleteRefused(ctx, rec); err != nil {
		return err
	}
	return s.db.SetDeletedBelow(ctx, rec.MinimumIndex)
}

// deleteRefused deletes every bundle object, full or partial, that p
// refuses: one listing of the bundles, whichever are left.
func (s *Storage) deleteRefused(ctx context.Context, p tiles.Pruned) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.workers)
	prefix := tiles.Tile{Width: tiles.TileWidth, Entries: true}.Path()
	prefix = prefix[:strings.LastIndex(prefix, "/")+1] // tile/entries/
	err := s.objects.List(ctx, prefix, func(name string) error {
		t, err := tiles.ParsePath(name)
		if err != nil || !p.Refuses(t) {
			return nil // not a bundle (nothing else is there), or one that stays
		}
		g.Go(func() error {
			if err := s.objects.Delete(gctx, name); err != nil {
				return fmt.Errorf("couldn't delete pruned bundle %s: %w", name, err)
			}
			return nil
		})
		return gctx.Err()
	})
	if werr := g.Wait(); err == nil {
		err = werr
	}
	return err
}

// prunedBy returns the error of ReadTile for a bundle the log refuses as
// pruned, nil for any other tile. It asks the database the first time,
// and then keeps the minimum index this instance last read or recorded; a
// bundle another instance pruned since is found missing, and ReadTile asks
// the database again then.
func (s *Storage) prunedBy(ctx context.Context, t tiles.Tile, fresh bool) error {
	if !t.Entries {
		return nil
	}
	p := s.pruned.Load()
	if p == nil || fresh {
		got, err := s.Pruned(ctx)
		if err != nil {
			return err
		}
		p = &got
	}
	if p.Refuses(t) {
		return &tiles.PrunedError{Path: t.Path(), Pruned: *p}
	}
	return nil
}
