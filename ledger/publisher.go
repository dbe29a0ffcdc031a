package ledger

import (
	"context"
	"sync"
	"time"
)

// publisher publishes the committed checkpoint at most once per
// PublishInterval and wakes callers waiting for a size to be published.
type publisher struct {
	l    *Ledger
	kick chan struct{}
	quit chan struct{}
	once sync.Once

	mu      sync.Mutex
	note    []byte
	size    uint64
	last    time.Time
	changed chan struct{} // closed and replaced whenever a checkpoint is published
}

func newPublisher(l *Ledger) *publisher {
	return &publisher{l: l, kick: make(chan struct{}, 1), quit: make(chan struct{}), changed: make(chan struct{})}
}

// committed tells the publisher a new state was committed.
func (p *publisher) committed() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *publisher) run() {
	for {
		select {
		case <-p.kick:
		case <-p.quit:
			return
		}
		p.mu.Lock()
		wait := time.Until(p.last.Add(p.l.cfg.PublishInterval))
		p.mu.Unlock()
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-p.quit:
				return
			}
		}
		if err := p.publishNow(context.Background()); err != nil {
			p.l.log.Error("couldn't publish checkpoint", "err", err)
			p.committed() // try again after the interval
		}
	}
}

// publishNow publishes the committed checkpoint if it is newer than the
// published one.
func (p *publisher) publishNow(ctx context.Context) error {
	st := p.l.Committed()
	p.mu.Lock()
	current := p.note != nil && p.size == st.Size
	p.mu.Unlock()
	if current {
		return nil
	}
	if err := p.l.cfg.Storage.Publish(ctx, st.Checkpoint); err != nil {
		return err
	}
	p.mu.Lock()
	p.note, p.size, p.last = st.Checkpoint, st.Size, time.Now()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	p.l.cfg.Metrics.published(st.Size)
	return nil
}

func (p *publisher) latest() ([]byte, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.note, p.size
}

func (p *publisher) wait(ctx context.Context, size uint64) error {
	for {
		p.mu.Lock()
		ok, ch := p.size >= size, p.changed
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *publisher) stop() { p.once.Do(func() { close(p.quit) }) }
