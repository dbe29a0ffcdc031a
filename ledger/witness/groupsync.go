package witness

import "sync"

// groupSync batches the fsyncs of concurrent writers of one file (group
// commit): Sync returns once a call of fsync that started after Sync was
// called has completed, so it covers every write made before Sync. While
// one fsync runs, the callers that arrive wait for the next, which one of
// them then runs for all.
type groupSync struct {
	fsync func() error

	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // fsyncs started
	done    uint64 // fsyncs completed; done ≤ started ≤ done+1
	err     error  // the first fsync error: sticky, see Sync
}

func newGroupSync(fsync func() error) *groupSync {
	g := &groupSync{fsync: fsync}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Sync waits for an fsync that starts after this call and returns its
// error. Once an fsync has failed every later Sync fails too: after a
// failed fsync the kernel may have dropped dirty pages, so a later
// successful fsync proves nothing about earlier writes.
func (g *groupSync) Sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	// The first fsync to start from now on is number started+1.
	want := g.started + 1
	for g.done < want {
		if g.started == g.done {
			// None is running: run the next one for everybody waiting.
			g.started++
			g.mu.Unlock()
			err := g.fsync()
			g.mu.Lock()
			g.done = g.started
			if g.err == nil {
				g.err = err
			}
			g.cond.Broadcast()
			continue
		}
		g.cond.Wait()
	}
	return g.err
}
