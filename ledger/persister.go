package ledger

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// maxStoreBatch bounds the records of one KeyStore.Store call, so that a
// persister that lags far behind catches up in steps.
const maxStoreBatch = 1 << 16

// persister moves the key records of committed entries into a KeyStore that
// is not the Storage, in the background: after each commit it stores what
// waits, several flushes per call when it lags, then advances the
// watermark and drops the stored records from memory.
type persister struct {
	l      *Ledger
	mu     sync.Mutex // held across a Store and what it changes; recover holds it to reload
	wake   chan struct{}
	stop   chan struct{} // closed by Close once the flush loop has ended
	done   chan struct{} // closed when run returns
	ctx    context.Context
	cancel context.CancelFunc
}

func newPersister(l *Ledger) *persister {
	ctx, cancel := context.WithCancel(context.Background())
	return &persister{l: l, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{}), ctx: ctx, cancel: cancel}
}

// kick tells the persister that records wait.
func (p *persister) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run stores until stopped and idle, or cancelled. A failed Store is logged
// (at most every 10s) and retried with backoff.
func (p *persister) run() {
	defer close(p.done)
	var (
		stopping bool
		failures int
		logged   time.Time
		delay    time.Duration
	)
	for {
		idle, err := p.step()
		if err != nil {
			failures++
			if time.Since(logged) >= 10*time.Second {
				p.l.log.Error("couldn't store idempotency keys; retrying", "err", err, "failures", failures)
				logged = time.Now()
			}
			delay = min(max(2*delay, 10*time.Millisecond), 5*time.Second)
			select {
			case <-time.After(delay):
			case <-p.ctx.Done():
				return
			}
			continue
		}
		failures, delay = 0, 0
		if !idle {
			continue
		}
		if stopping {
			return
		}
		select {
		case <-p.wake:
		case <-p.stop:
			stopping = true
		case <-p.ctx.Done():
			return
		}
	}
}

// step stores the records that wait, up to maxStoreBatch of them, and
// reports whether there were none.
func (p *persister) step() (idle bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.l
	l.mu.Lock()
	from, to, recs := l.water, l.committed.Size, l.unstored
	l.mu.Unlock()
	if from == to {
		return true, nil
	}
	if len(recs) > maxStoreBatch {
		to, recs = recs[maxStoreBatch].Index, recs[:maxStoreBatch]
	}
	if err := l.store.Store(p.ctx, from, to, recs); err != nil {
		// The store may have happened all the same: the watermark says.
		w, werr := l.store.Watermark(p.ctx)
		switch {
		case werr != nil:
			return false, fmt.Errorf("couldn't store the keys of entries [%d, %d): %w; nor read the watermark: %w", from, to, err, werr)
		case w == from:
			return false, fmt.Errorf("couldn't store the keys of entries [%d, %d): %w", from, to, err)
		case w < from || w > to:
			return false, fmt.Errorf("couldn't store the keys of entries [%d, %d): %w; the watermark is %d", from, to, err, w)
		}
		to = w
	}
	l.mu.Lock()
	l.advance(to)
	l.mu.Unlock()
	return false, nil
}

// advance moves the watermark to w, the key store now holding the records
// of every entry below it, and drops those records from memory. l.mu is
// held.
func (l *Ledger) advance(w uint64) {
	n := 0
	for n < len(l.unstored) && l.unstored[n].Index < w {
		n++
	}
	l.forget(l.unstored[:n])
	if l.unstored = l.unstored[n:]; len(l.unstored) == 0 {
		l.unstored = nil // let go of the array
	}
	if len(l.keys) == 0 {
		l.keys = map[string]keyRecord{} // a map does not shrink as it empties
	}
	l.water = max(l.water, w)
}

// drain waits until the persister has stored every committed record and
// stopped, or ctx ends (then it stops it).
func (p *persister) drain(ctx context.Context) error {
	close(p.stop)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		p.cancel()
		return fmt.Errorf("couldn't store the last idempotency keys: %w", ctx.Err())
	}
}
