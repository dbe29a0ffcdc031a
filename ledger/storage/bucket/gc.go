package bucket

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// collector deletes the partial tiles and bundles that full ones have
// replaced, which would otherwise be most of what the bucket stores: a
// flush writes the partial bundle and tiles of its new size as new objects
// (their width is in their names), so at one event per flush each event
// leaves a partial bundle of up to 255 entries behind.
//
// A tile's partial objects are deleted only once the full tile is inside
// the checkpoint this instance published before its latest one: a reader
// walking the tree of any checkpoint since then needs none of them, and
// one walking an older tree finds the full tile in their place (tlog-tiles
// lets a log delete a partial tile once the full one exists, and clients
// fall back to the full one, as tiles.FetchTile does). Deleting is best
// effort, in the background: a partial left behind (by a crash, or from
// before this instance started) costs only its bytes.
type collector struct {
	s    *Storage
	ctx  context.Context // canceled by stop
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	started bool
	done    uint64 // partials of tiles full at this size are collected (or were before we started)
	prev    uint64 // the largest size this instance published
	busy    bool
}

// published tells the collector that a checkpoint of size was published,
// and starts collecting for the size published before it.
func (c *collector) published(size uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		c.started, c.done, c.prev = true, size, size
		return
	}
	upTo := c.prev
	c.prev = max(c.prev, size)
	if c.busy || upTo <= c.done {
		return
	}
	from := c.done
	c.busy = true
	c.wg.Go(func() {
		ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
		defer cancel()
		err := c.collect(ctx, from, upTo)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.busy = false
		if err != nil {
			if c.ctx.Err() == nil {
				c.s.log.Warn("couldn't delete superseded partial tiles; will try again", "err", err)
			}
			return
		}
		c.done = upTo
	})
}

// close stops a collection under way and waits for it.
func (c *collector) close() {
	c.stop()
	c.wg.Wait()
}

// collect deletes the partial objects of every tile and bundle that is
// full at size to but was not at size from.
func (c *collector) collect(ctx context.Context, from, to uint64) error {
	for level := uint8(0); level <= tiles.MaxLevel; level++ {
		shift := uint(level) * tiles.TileHeight
		first, last := (from>>shift)/tiles.TileWidth, (to>>shift)/tiles.TileWidth
		if last == 0 {
			break
		}
		for n := first; n < last; n++ {
			full := []tiles.Tile{{Level: level, Index: n, Width: tiles.TileWidth}}
			if level == 0 {
				full = append(full, tiles.Tile{Index: n, Width: tiles.TileWidth, Entries: true})
			}
			for _, t := range full {
				if err := c.deletePartials(ctx, t); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// deletePartials deletes the partial objects of full tile t.
func (c *collector) deletePartials(ctx context.Context, t tiles.Tile) error {
	var names []string
	if err := c.s.objects.List(ctx, t.Path()+".p/", func(name string) error {
		names = append(names, name)
		return nil
	}); err != nil {
		return err
	}
	for _, name := range names {
		if err := c.s.objects.Delete(ctx, name); err != nil {
			return fmt.Errorf("couldn't delete %s: %w", name, err)
		}
	}
	return nil
}
