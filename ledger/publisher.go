package ledger

import (
	"context"
	"sync"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// publisher publishes the committed checkpoint at most once per
// PublishInterval, first collecting witness cosignatures when witnesses are
// configured, and wakes callers waiting for a size to be published or
// cosigned. Without a quorum it retries every interval, even at the same
// size, so witnesses that come back restore the quorum on their own.
type publisher struct {
	l        *Ledger
	cosigner *cosigner // nil without witnesses
	kick     chan struct{}
	quit     chan struct{}
	once     sync.Once

	mu       sync.Mutex
	note     []byte
	size     uint64
	cosigned uint64        // largest published size that met the quorum
	met      bool          // the published checkpoint meets the quorum
	last     time.Time     // when the last checkpoint was published, by Config.Clock
	changed  chan struct{} // closed and replaced whenever a checkpoint is published
}

func newPublisher(l *Ledger) *publisher {
	p := &publisher{l: l, kick: make(chan struct{}, 1), quit: make(chan struct{}), changed: make(chan struct{})}
	if l.cfg.Witnesses != nil {
		p.cosigner = newCosigner(&l.cfg, tiles.HashTiles(l.cfg.Storage), l.log)
	}
	return p
}

// committed tells the publisher a new state was committed.
func (p *publisher) committed() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run publishes until stopped. A failed publish is retried with backoff and
// logged at its first failure, then at most every 10 s.
func (p *publisher) run() {
	var (
		failures int
		logged   time.Time
		delay    time.Duration
	)
	var retry <-chan time.Time
	if p.cosigner != nil {
		t := time.NewTicker(p.l.cfg.PublishInterval)
		defer t.Stop()
		retry = t.C
	}
	for {
		select {
		case <-p.kick:
		case <-retry:
			p.mu.Lock()
			met := p.met
			p.mu.Unlock()
			if met {
				continue
			}
		case <-p.quit:
			return
		}
		p.mu.Lock()
		wait := p.last.Add(p.l.cfg.PublishInterval).Sub(p.l.cfg.Clock())
		p.mu.Unlock()
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-p.quit:
				return
			}
		}
		if err := p.publishNow(context.Background()); err != nil {
			p.l.failedNow()
			p.l.cfg.Metrics.publishFailed()
			failures++
			if failures == 1 || time.Since(logged) >= 10*time.Second {
				p.l.log.Error("couldn't publish checkpoint; retrying", "err", err, "failures", failures)
				logged = time.Now()
			}
			delay = min(max(2*delay, minPublishRetry), maxPublishRetry)
			select {
			case <-time.After(delay):
			case <-p.quit:
				return
			}
			p.committed() // try again
			continue
		}
		if failures > 0 {
			p.l.log.Info("published again after failures", "failures", failures)
		}
		failures, delay = 0, 0
	}
}

// Bounds of the delay before a failed publish is tried again: it doubles
// from the first to the second while publishing fails, so that a full or
// read-only disk is not asked thousands of times a second.
const (
	minPublishRetry = 100 * time.Millisecond
	maxPublishRetry = 5 * time.Second
)

// publishNow publishes the committed checkpoint, with the cosignatures it can
// collect, unless it is already published (with its quorum, if any).
func (p *publisher) publishNow(ctx context.Context) error {
	st := p.l.Committed()
	p.mu.Lock()
	current := p.note != nil && p.size == st.Size && (p.cosigner == nil || p.met)
	p.mu.Unlock()
	if current {
		return nil
	}
	note, met := st.Checkpoint, false
	if p.cosigner != nil {
		cctx, cancel := context.WithTimeout(ctx, p.l.cfg.WitnessTimeout)
		note, met = p.cosigner.cosign(cctx, st)
		cancel()
	}
	if err := p.l.cfg.Storage.Publish(ctx, note); err != nil {
		return err
	}
	p.mu.Lock()
	p.note, p.size, p.met, p.last = note, st.Size, met, p.l.cfg.Clock()
	if met {
		p.cosigned = st.Size
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	p.l.cfg.Metrics.published(st.Size, p.cosigner != nil, met)
	return nil
}

func (p *publisher) latest() ([]byte, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.note, p.size
}

func (p *publisher) quorum() (configured, met bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cosigner != nil, p.met
}

// wait blocks until the published (or, with cosigned, the quorum-meeting)
// checkpoint covers size entries.
func (p *publisher) wait(ctx context.Context, size uint64, cosigned bool) error {
	for {
		p.mu.Lock()
		have := p.size
		if cosigned {
			have = p.cosigned
		}
		ch := p.changed
		p.mu.Unlock()
		if have >= size {
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
