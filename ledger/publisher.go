package ledger

import (
	"context"
	"errors"
	"fmt"
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

	follows sync.Mutex // serialises refresh

	mu       sync.Mutex
	note     []byte
	size     uint64
	root     tiles.Hash    // the root of the published size
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
	// Another instance published a larger checkpoint, which we follow:
	// ours would move readers back.
	behind := p.size > st.Size
	p.mu.Unlock()
	if current || behind {
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
	if st.Size >= p.size { // a refresh may have moved past st meanwhile
		p.set(note, st.Size, st.Root, met)
		p.last = p.l.cfg.Clock()
	}
	p.mu.Unlock()
	p.l.cfg.Metrics.published(st.Size, p.cosigner != nil, met)
	return nil
}

// set makes note, of the tree (size, root), the published checkpoint and
// wakes the waiters. p.mu is held.
func (p *publisher) set(note []byte, size uint64, root tiles.Hash, met bool) {
	p.note, p.size, p.root, p.met = note, size, root, met
	if met {
		p.cosigned = max(p.cosigned, size)
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// follow looks up, every PublishInterval until stop, the newest checkpoint
// published to a storage that instances share, so that an instance that
// appends little or nothing, or a read-only one, serves what the others
// published within one interval.
func (p *publisher) follow() {
	if _, shared := p.l.cfg.Storage.(PublishedReader); !shared {
		return
	}
	t := time.NewTicker(p.l.cfg.PublishInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-p.quit:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*p.l.cfg.PublishInterval+5*time.Second)
		if err := p.refresh(ctx); err != nil {
			p.l.log.Warn("couldn't follow the checkpoints published to the shared storage", "err", err)
		}
		cancel()
	}
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

// refresh adopts the checkpoint published to the shared storage if it is
// larger than ours, after checking that it is our log's, signed with our
// key, and consistent with the tree we published: a shared storage must
// not fork the log. A read-only ledger also takes the committed state.
func (p *publisher) refresh(ctx context.Context) error {
	pr, shared := p.l.cfg.Storage.(PublishedReader)
	if !shared {
		return nil
	}
	p.follows.Lock()
	defer p.follows.Unlock()
	if p.l.cfg.ReadOnly {
		st, err := p.l.loadState(ctx)
		if err != nil {
			return err
		}
		p.l.mu.Lock()
		if st.Size >= p.l.committed.Size {
			p.l.committed = st
		}
		p.l.mu.Unlock()
		p.l.cfg.Metrics.setSize(st.Size)
	}
	note, err := pr.Published(ctx)
	if errors.Is(err, tiles.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("couldn't read the published checkpoint: %w", err)
	}
	cp, err := p.l.openNote(note)
	if err != nil {
		return fmt.Errorf("the checkpoint published to the shared storage: %w", err)
	}
	p.mu.Lock()
	size, root, have := p.size, p.root, p.note != nil
	p.mu.Unlock()
	if have && cp.Size <= size {
		return nil
	}
	if size > 0 {
		proof, err := tiles.ConsistencyProof(ctx, tiles.HashTiles(p.l.cfg.Storage), size, cp.Size)
		if err != nil {
			return fmt.Errorf("couldn't prove the published size %d consistent with %d: %w", cp.Size, size, err)
		}
		if err := tiles.VerifyConsistency(size, root, cp.Size, cp.Hash, proof); err != nil {
			return fmt.Errorf("the checkpoint published to the shared storage forks the log: %w", err)
		}
	}
	met := false
	if p.cosigner != nil {
		_, qerr := p.cosigner.policy.Verify(note)
		met = qerr == nil
	}
	p.mu.Lock()
	if cp.Size > p.size || p.note == nil {
		p.set(note, cp.Size, cp.Hash, met)
	}
	p.mu.Unlock()
	p.l.cfg.Metrics.published(cp.Size, p.cosigner != nil, met)
	p.l.log.Debug("following a checkpoint another instance published", "from", size, "to", cp.Size)
	return nil
}
