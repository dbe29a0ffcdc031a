// Package ledger is the write side of the audit ledger: it sequences entries
// into an RFC 6962 Merkle log in group commits, stores the tree as C2SP
// tlog-tiles through a Storage driver, signs checkpoints and publishes them.
//
// An entry is acknowledged only once the flush that holds it is durable: an
// acknowledged entry survives kill -9.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/tiles"
)

// Config configures a Ledger. Zero values take the documented defaults.
type Config struct {
	// Storage is the storage driver. Required.
	Storage Storage
	// Signer signs checkpoints; its name is the log's origin. Required.
	Signer note.Signer
	// KeyOf returns the idempotency key stored in a leaf ("" if none). It is
	// used at start to rebuild the key index from the log. Required.
	KeyOf func(leaf []byte) (string, error)
	// Keys is the persistent idempotency-key index, for a Storage that does
	// not implement KeyStore itself (posix); a Storage that does (postgres)
	// keeps its own, and Keys must be nil.
	Keys KeyStore
	// MaxPending is how many entries may wait for a flush before Add pushes
	// back with ErrPushback. Default 262144.
	MaxPending int
	// PublishInterval is the longest a committed checkpoint waits before it is
	// published. Default 1s.
	PublishInterval time.Duration
	// Witnesses is a C2SP tlog-policy; each checkpoint is sent, before it is
	// published, to every witness with a URL in it, and the valid
	// cosignatures are published with it. Nil means no witnesses.
	Witnesses *tiles.Policy
	// WitnessTimeout bounds one round of cosigning. Default 5s.
	WitnessTimeout time.Duration
	// WitnessClient talks to witnesses. Default: an http.Client with WitnessTimeout.
	WitnessClient *http.Client
	// Clock returns the current time, which decides when the next
	// checkpoint may be published (at most one per PublishInterval).
	// Default time.Now.
	Clock func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
	// Metrics, if set, is updated as the ledger runs; main registers it.
	Metrics *Metrics
}

func (c *Config) validate() error {
	switch {
	case c.Storage == nil:
		return errors.New("ledger: Config.Storage is required")
	case c.Signer == nil:
		return errors.New("ledger: Config.Signer is required")
	case c.KeyOf == nil:
		return errors.New("ledger: Config.KeyOf is required")
	case c.MaxPending < 0 || c.PublishInterval < 0:
		return errors.New("ledger: Config.MaxPending and PublishInterval must not be negative")
	}
	if c.MaxPending == 0 {
		c.MaxPending = 1 << 18
	}
	if c.PublishInterval == 0 {
		c.PublishInterval = time.Second
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.WitnessTimeout == 0 {
		c.WitnessTimeout = 5 * time.Second
	}
	if c.WitnessClient == nil {
		c.WitnessClient = &http.Client{Timeout: c.WitnessTimeout}
	}
	return nil
}

// Entry is one leaf to append.
type Entry struct {
	// Key is the entry's idempotency key, "" for none. An entry whose key is
	// already in the log (or pending) is not appended again: its result is
	// the original's, marked Duplicate.
	Key string
	// Leaf is the exact leaf bytes, at most tiles.MaxEntrySize.
	Leaf []byte
}

// Result is where an entry landed.
type Result struct {
	Index     uint64
	LeafHash  tiles.Hash
	Duplicate bool
}

// Errors callers branch on.
var (
	// ErrPushback means too many entries are waiting; retry later.
	ErrPushback = errors.New("too many entries waiting to be sequenced")
	// ErrClosed means the ledger is shut down.
	ErrClosed = errors.New("ledger is closed")
	// ErrNoWitnesses means cosigning was asked of a ledger without witnesses.
	ErrNoWitnesses = errors.New("no witness policy is configured")
)

// Ledger sequences entries into the log. It is safe for concurrent use.
type Ledger struct {
	cfg    Config
	origin string
	log    *slog.Logger

	mu        sync.Mutex
	next      uint64               // index the next new entry gets
	keys      map[string]keyRecord // idempotency keys, committed and pending
	pool      []*batch             // waiting for the next flush, in index order
	pooled    int                  // entries in pool
	committed State
	closed    bool
	failed    error // set when sequencing stopped for good
	wake      chan struct{}

	seq  *sequencer
	pub  *publisher
	done chan struct{}
}

// batch is an atomic group of entries and the future its caller waits on.
type batch struct {
	entries []Entry      // as added
	sums    []tiles.Hash // their leaf hashes
	leaves  [][]byte     // new entries only, at indexes first...
	hashes  []tiles.Hash // their leaf hashes
	keys    []string     // their keys, in the form indexKey gives
	first   uint64
	results []Result
	done    chan struct{}
	err     error
}

// New opens the log in cfg.Storage, checks its committed state against its
// tiles, rebuilds the idempotency index and starts sequencing and publishing.
func New(ctx context.Context, cfg Config) (*Ledger, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Ledger{cfg: cfg, origin: cfg.Signer.Name(), log: cfg.Logger, keys: map[string]keyRecord{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	seq, err := l.recover(ctx)
	if err != nil {
		return nil, err
	}
	l.seq = seq
	l.pub = newPublisher(l)
	if err := l.pub.publishNow(ctx); err != nil {
		return nil, err
	}
	go l.run()
	go l.pub.run()
	return l, nil
}

// Origin returns the log's origin.
func (l *Ledger) Origin() string { return l.origin }

// Add queues an atomic batch of entries and returns a future. Entries whose
// keys are already known resolve to the original entry. Add fails with
// ErrPushback when the pool is full; nothing of the batch is queued then.
func (l *Ledger) Add(entries []Entry) (*Future, error) {
	b := &batch{entries: entries, sums: make([]tiles.Hash, len(entries)), done: make(chan struct{})}
	for i, e := range entries {
		if len(e.Leaf) > tiles.MaxEntrySize {
			return nil, fmt.Errorf("entry %d: %w", i, tiles.ErrEntryTooLarge)
		}
		b.sums[i] = tiles.LeafHash(e.Leaf) // hashed here, in the caller's goroutine
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.failed != nil:
		return nil, l.failed
	case l.closed:
		return nil, ErrClosed
	case l.pooled+len(entries) > l.cfg.MaxPending && l.pooled > 0:
		l.cfg.Metrics.pushback()
		return nil, ErrPushback
	}
	l.assign(b)
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return &Future{b: b}, nil
}

// assign gives b's new entries the next indexes, resolves its duplicates
// against the known keys and queues it; a batch with nothing left to wait
// for resolves at once. It runs again for a batch that a conflicting writer
// displaced (see catchUp). l.mu is held.
func (l *Ledger) assign(b *batch) {
	b.first = l.next
	b.results = make([]Result, len(b.entries))
	b.leaves, b.hashes, b.keys = b.leaves[:0], b.hashes[:0], b.keys[:0]
	inBatch := map[string]int{}
	waitForPool := false
	for i, e := range b.entries {
		key := indexKey(e.Key)
		if key != "" {
			if rec, ok := l.keys[key]; ok {
				b.results[i] = Result{Index: rec.index, LeafHash: rec.hash, Duplicate: true}
				waitForPool = waitForPool || rec.index >= l.committed.Size
				continue
			}
			if j, ok := inBatch[key]; ok {
				b.results[i] = b.results[j]
				b.results[i].Duplicate = true
				continue
			}
			inBatch[key] = i
		}
		idx := b.first + uint64(len(b.leaves))
		b.results[i] = Result{Index: idx, LeafHash: b.sums[i]}
		b.leaves = append(b.leaves, e.Leaf)
		b.hashes = append(b.hashes, b.sums[i])
		b.keys = append(b.keys, key)
	}
	if len(b.leaves) == 0 && !waitForPool {
		close(b.done) // every entry is already committed
		return
	}
	for i, k := range b.keys {
		if k != "" {
			l.keys[k] = keyRecord{index: b.first + uint64(i), hash: b.hashes[i]}
		}
	}
	l.next += uint64(len(b.leaves))
	l.pool = append(l.pool, b)
	l.pooled += len(b.leaves)
	l.cfg.Metrics.setPending(l.pooled)
}

// Future resolves when a batch is durable.
type Future struct{ b *batch }

// Wait blocks until the batch is durable (committed) and returns where each
// entry landed, or the error that kept it from being committed.
func (f *Future) Wait(ctx context.Context) ([]Result, error) {
	select {
	case <-f.b.done:
		if f.b.err != nil {
			return nil, f.b.err
		}
		return f.b.results, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Append adds entries and waits until they are durable.
func (l *Ledger) Append(ctx context.Context, entries []Entry) ([]Result, error) {
	f, err := l.Add(entries)
	if err != nil {
		return nil, err
	}
	return f.Wait(ctx)
}

// WaitPublished blocks until the published checkpoint covers size entries.
func (l *Ledger) WaitPublished(ctx context.Context, size uint64) error {
	return l.pub.wait(ctx, size, false)
}

// WaitCosigned blocks until a published checkpoint covering size entries
// meets the witness quorum. It fails at once without witnesses.
func (l *Ledger) WaitCosigned(ctx context.Context, size uint64) error {
	if l.pub.cosigner == nil {
		return ErrNoWitnesses
	}
	return l.pub.wait(ctx, size, true)
}

// Published returns the latest published checkpoint note and its size.
func (l *Ledger) Published() ([]byte, uint64) { return l.pub.latest() }

// Quorum reports whether witnesses are configured, and if so whether the
// published checkpoint meets their quorum.
func (l *Ledger) Quorum() (configured, met bool) { return l.pub.quorum() }

// Committed returns the committed state.
func (l *Ledger) Committed() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.committed
}

// Healthy reports why the ledger cannot sequence, or nil.
func (l *Ledger) Healthy() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return l.failed
	}
	if l.closed {
		return ErrClosed
	}
	return nil
}

// Close stops accepting entries, waits for pending ones to be flushed and
// published, and stops the ledger.
func (l *Ledger) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	select {
	case <-l.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.pub.stop()
	return l.pub.publishNow(ctx)
}
