package posix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ledger-dev/ledger/internal/durable"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// readPruned reads DIR/pruned.json: the zero Pruned if the log was never
// pruned.
func (s *Storage) readPruned() (tiles.Pruned, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, tiles.PrunedPath))
	if errors.Is(err, fs.ErrNotExist) {
		return tiles.Pruned{}, nil
	}
	if err != nil {
		return tiles.Pruned{}, err
	}
	p, err := tiles.ParsePruned(b)
	if err != nil {
		return tiles.Pruned{}, fmt.Errorf("%s: %w", filepath.Join(s.dir, tiles.PrunedPath), err)
	}
	return p, nil
}

// Pruned returns how far the log is pruned (ledger.Pruner).
func (s *Storage) Pruned(context.Context) (tiles.Pruned, error) {
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	return s.pruned, nil
}

// prunedBy returns the error of ReadTile for a bundle the log refuses as
// pruned, nil for any other tile.
func (s *Storage) prunedBy(t tiles.Tile) error {
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	if s.pruned.Refuses(t) {
		return &tiles.PrunedError{Path: t.Path(), Pruned: s.pruned}
	}
	return nil
}

// Prune records p in DIR/pruned.json (written atomically and fsynced), and
// then deletes the bundles it refuses (ledger.Pruner). A static web server
// serving the directory serves the file at tiles.PrunedPath.
func (s *Storage) Prune(_ context.Context, p tiles.Pruned) error {
	s.prune.Lock() // one Prune at a time; Commit and ReadTile go on
	defer s.prune.Unlock()
	s.mu.Lock()
	size := s.state.Size
	s.mu.Unlock()
	s.pmu.RLock()
	old := s.pruned
	s.pmu.RUnlock()
	if err := ledger.CheckPrune(old, p, size); err != nil {
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(s.dir, tiles.PrunedPath), b, 0o644); err != nil {
		return fmt.Errorf("couldn't record the minimum index %d: %w", p.MinimumIndex, err)
	}
	// At this point p is recorded: a crash from here on leaves the
	// bundles it refuses refused, and Open deletes what is left of them.
	s.pmu.Lock()
	s.pruned = p
	s.pmu.Unlock()
	return s.deletePruned()
}

// completePrune deletes, at Open, the bundles a Prune that died left: if
// the last bundle the recorded minimum index refuses is still there, a
// deletion did not finish (deletePruned removes that one last).
func (s *Storage) completePrune() error {
	n := ledger.RefusedBundles(s.pruned)
	if n == 0 {
		return nil
	}
	last := tiles.Tile{Index: n - 1, Width: tiles.TileWidth, Entries: true}
	if _, err := os.Stat(filepath.Join(s.dir, filepath.FromSlash(last.Path()))); errors.Is(err, fs.ErrNotExist) {
		s.cleaned = n
		return nil
	} else if err != nil {
		return err
	}
	return s.deletePruned()
}

// deletePruned deletes the refused bundles not deleted yet (from
// s.cleaned on): each full bundle and its partial widths; it syncs the file
// system before it deletes the last one, and again after. So the last
// refused bundle is gone only once every other is, durably, which is what
// completePrune looks at. s.prune is held, or Open runs.
func (s *Storage) deletePruned() error {
	n := ledger.RefusedBundles(s.pruned)
	if s.cleaned >= n {
		return nil
	}
	for i := s.cleaned; i < n; i++ {
		if i == n-1 {
			if err := s.syncfs(); err != nil {
				return err
			}
		}
		full := filepath.Join(s.dir, filepath.FromSlash(tiles.Tile{Index: i, Width: tiles.TileWidth, Entries: true}.Path()))
		if err := os.RemoveAll(full + ".p"); err != nil {
			return fmt.Errorf("couldn't delete pruned bundle %d: %w", i, err)
		}
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("couldn't delete pruned bundle %d: %w", i, err)
		}
	}
	if err := s.syncfs(); err != nil {
		return err
	}
	s.cleaned = n
	return nil
}
