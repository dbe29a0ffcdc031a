package witness

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGroupSync checks that each Sync is covered by an fsync that started
// after it was called, that concurrent callers share fsyncs, and that an
// fsync error sticks.
func TestGroupSync(t *testing.T) {
	var started, finished atomic.Int64 // fsync counts
	var fail atomic.Bool
	g := newGroupSync(func() error {
		started.Add(1)
		time.Sleep(2 * time.Millisecond)
		finished.Add(1)
		if fail.Load() {
			return errors.New("injected fsync error")
		}
		return nil
	})
	const callers = 50
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range 5 {
				before := started.Load()
				if err := g.Sync(); err != nil {
					t.Error(err)
				}
				// An fsync that started after the call has finished.
				if finished.Load() <= before {
					t.Errorf("Sync returned with %d fsyncs finished, %d started before it", finished.Load(), before)
				}
			}
		})
	}
	wg.Wait()
	if n := started.Load(); n >= callers*5/2 {
		t.Errorf("%d fsyncs for %d concurrent Syncs: not batched", n, callers*5)
	}
	fail.Store(true)
	if err := g.Sync(); err == nil {
		t.Fatal("Sync hid an fsync error")
	}
	fail.Store(false)
	if err := g.Sync(); err == nil {
		t.Fatal("Sync succeeded after an fsync error")
	}
}
