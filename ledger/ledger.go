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
	"golang.org/x/time/rate"

	"github.com/ledger-dev/ledger/tiles"
)

// Config configures a Ledger. Zero values take the documented defaults.
type Config struct {
	// Storage is the storage driver. Required.
	Storage Storage
	// Signer signs checkpoints; its name is the log's origin. Required,
	// except with ReadOnly and Verifier set.
	Signer note.Signer
	// Verifier checks the log signature of checkpoints other instances
	// published to a shared storage. Default: signing their text again
	// with Signer (Ed25519 signatures are deterministic). A read-only
	// ledger given a Verifier needs no Signer: the private key stays with
	// the instances that sequence.
	Verifier note.Verifier
	// KeyOf returns the idempotency key stored in a leaf ("" if none). It is
	// used at start to learn the keys of the entries the key store's
	// watermark does not cover yet. Required.
	KeyOf func(leaf []byte) (string, error)
	// Keys is the persistent idempotency-key index, for a Storage that does
	// not implement KeyStore itself (posix); a Storage that does (postgres)
	// keeps its own, and Keys must be nil. One of the two is required.
	Keys KeyStore
	// MaxUnstoredKeys is how many key records of committed entries may wait
	// for Keys.Store before Add pushes back with ErrPushback. Default
	// 1<<20. Unused when the Storage keeps the key index.
	MaxUnstoredKeys int
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
	// ReadOnly opens the log for reading only: no sequencing, no key
	// store, no publishing; Add fails with ErrReadOnly. The Storage must be
	// shared (a PublishedReader): the ledger serves the newest checkpoint
	// that the appending instances published, looked up every
	// PublishInterval and whenever a read asks for more (PublishedCovering).
	ReadOnly bool
}

func (c *Config) validate() error {
	switch {
	case c.Storage == nil:
		return errors.New("ledger: Config.Storage is required")
	case c.Signer == nil && !(c.ReadOnly && c.Verifier != nil):
		return errors.New("ledger: Config.Signer is required (or, read-only, Config.Verifier)")
	case c.Signer != nil && c.Verifier != nil && c.Signer.Name() != c.Verifier.Name():
		return errors.New("ledger: Config.Signer and Config.Verifier are of different logs")
	case c.KeyOf == nil:
		return errors.New("ledger: Config.KeyOf is required")
	case c.MaxPending < 0 || c.PublishInterval < 0 || c.MaxUnstoredKeys < 0:
		return errors.New("ledger: Config.MaxPending, MaxUnstoredKeys and PublishInterval must not be negative")
	}
	if c.Witnesses != nil {
		var key LogKey = c.Verifier
		if c.Signer != nil {
			key = c.Signer
		}
		if err := CheckWitnessPolicy(c.Witnesses, key); err != nil {
			return err
		}
	}
	if _, shared := c.Storage.(PublishedReader); c.ReadOnly && !shared {
		return errors.New("ledger: Config.ReadOnly needs a Storage that instances share (PostgreSQL, a bucket): there is nobody else to follow")
	}
	if _, own := c.Storage.(KeyStore); own && c.Keys != nil {
		return errors.New("ledger: Config.Keys must be nil: the Storage keeps the key index itself")
	} else if !own && c.Keys == nil {
		return errors.New("ledger: Config.Keys is required: the Storage keeps no key index")
	}
	if c.MaxUnstoredKeys == 0 {
		c.MaxUnstoredKeys = 1 << 20
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
	// Fresh says that Key cannot be in the log yet (the server has just
	// assigned it): the key store is not asked about it. It is still
	// stored, so that a later resend under it is found.
	Fresh bool
	// Same decides whether an entry already logged under Key, whose leaf
	// differs from Leaf, is this same submission (a resend the server
	// filled in differently, say a timestamp). It is given the original
	// leaf. Nil means only identical leaves are the same submission. An
	// entry that is not the same submission as the one its key holds fails
	// its batch with a *KeyConflictError.
	Same func(original []byte) bool
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
	// ErrNoHistory means the storage keeps no published checkpoints (it
	// does not implement CheckpointHistory).
	ErrNoHistory = errors.New("the storage keeps no history of published checkpoints")
	// ErrStorage means storage failed (a database down, a disk full or
	// read-only): nothing the error concerns was committed, and a retry
	// later may work. What failed is in the wrapped error, for the
	// server's log: it names paths and hosts, which clients must not see.
	ErrStorage = errors.New("storage is unavailable")
	// ErrKeyConflict means an entry's key is already in the log (or
	// pending) for different content; see KeyConflictError.
	ErrKeyConflict = errors.New("idempotency key already used for different content")
	// ErrReadOnly means the ledger was opened with Config.ReadOnly.
	ErrReadOnly = errors.New("this instance is read-only: append to an instance that sequences")
)

// KeyConflictError is the error of a batch holding an entry whose key
// already holds another submission. It wraps ErrKeyConflict.
type KeyConflictError struct {
	// Key is the entry's key (Entry.Key).
	Key string
	// Index is the index of the entry the key already holds.
	Index uint64
	// Entry is the position of the conflicting entry in its batch.
	Entry int
}

func (e *KeyConflictError) Error() string {
	return fmt.Sprintf("entry %d of the batch: %v: logged at index %d", e.Entry, ErrKeyConflict, e.Index)
}

// Unwrap returns ErrKeyConflict.
func (e *KeyConflictError) Unwrap() error { return ErrKeyConflict }

// Ledger sequences entries into the log. It is safe for concurrent use.
type Ledger struct {
	cfg    Config
	origin string
	log    *slog.Logger

	store    KeyStore // the key index below the watermark
	ownStore bool     // store is the Storage: Commit stores Flush.Keys

	mu        sync.Mutex
	next      uint64               // index the next new entry gets
	keys      map[string]keyRecord // idempotency keys of entries at or above water
	water     uint64               // the key store's watermark, as last learned
	unstored  []KeyRecord          // committed records of [water, committed.Size), for Store
	pool      []*batch             // waiting for the next flush, in index order
	inflight  []*batch             // taken by the flush under way
	reloads   uint64               // times keys was reloaded from storage (see resolve)
	pooled    int                  // entries in pool
	committed State
	closed    bool
	failed    error // why appends are refused while the sequencer reloads after a failed flush
	wake      chan struct{}
	closing   chan struct{} // closed by Close: ends a reload that waits for storage
	// lastFailure is when a flush or a publish last failed (Config.Clock):
	// Healthy reports it for healthHold, so that a storage that fails
	// every other flush does not make the health check flap.
	lastFailure time.Time
	flushLog    rate.Sometimes // rate-limits the logging of failed flushes

	seq  *sequencer
	pub  *publisher
	per  *persister // nil when the Storage keeps the key index
	done chan struct{}
}

// batch is an atomic group of entries and the future its caller waits on.
type batch struct {
	entries []Entry      // as added
	sums    []tiles.Hash // their leaf hashes
	leaves  [][]byte     // new entries only, at indexes first...
	hashes  []tiles.Hash // their leaf hashes
	keys    []string     // their keys, in the form indexKey gives
	names   []string     // their keys as given (Entry.Key)
	ikeys   []string     // every entry's key, in index form
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
	origin := ""
	if cfg.Signer != nil {
		origin = cfg.Signer.Name()
	} else {
		origin = cfg.Verifier.Name()
	}
	l := &Ledger{cfg: cfg, origin: origin, log: cfg.Logger, keys: map[string]keyRecord{}, flushLog: rate.Sometimes{Interval: 10 * time.Second},
		store: cfg.Keys, wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
	if ks, own := cfg.Storage.(KeyStore); own {
		l.store, l.ownStore = ks, true
	}
	if cfg.ReadOnly {
		return l.openReadOnly(ctx)
	}
	seq, err := l.recover(ctx)
	if err != nil {
		return nil, err
	}
	l.seq = seq
	if !l.ownStore {
		l.per = newPersister(l)
		go l.per.run()
	}
	l.pub = newPublisher(l)
	if err := l.pub.publishNow(ctx); err != nil {
		return nil, err
	}
	go l.run()
	go l.pub.run()
	go l.pub.follow()
	return l, nil
}

// openReadOnly finishes New for Config.ReadOnly: it loads the committed
// state and the newest published checkpoint, and follows them.
func (l *Ledger) openReadOnly(ctx context.Context) (*Ledger, error) {
	l.pub = newPublisher(l)
	if err := l.pub.refresh(ctx); err != nil {
		return nil, err
	}
	close(l.done) // no flush loop
	go l.pub.follow()
	_, size := l.pub.latest()
	l.log.Info("log opened read-only", "origin", l.origin, "published_size", size)
	return l, nil
}

// Origin returns the log's origin.
func (l *Ledger) Origin() string { return l.origin }

// Add queues an atomic batch of entries and returns a future. Entries whose
// keys are already logged (or pending) resolve to the original entry; an
// entry whose key holds other content fails the batch with a
// *KeyConflictError. Add fails with ErrPushback when the pool is full, or
// when too many key records wait to be stored; nothing of the batch is
// queued then. ctx bounds the key store lookups.
func (l *Ledger) Add(ctx context.Context, entries []Entry) (*Future, error) {
	b := &batch{entries: entries, sums: make([]tiles.Hash, len(entries)), ikeys: make([]string, len(entries)),
		done: make(chan struct{})}
	for i, e := range entries {
		if len(e.Leaf) > tiles.MaxEntrySize {
			return nil, fmt.Errorf("entry %d: %w", i, tiles.ErrEntryTooLarge)
		}
		// Hashed here, in the caller's goroutine, not under l.mu.
		b.sums[i], b.ikeys[i] = tiles.LeafHash(e.Leaf), indexKey(e.Key)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.admit(len(entries)); err != nil {
		return nil, err
	}
	known, err := l.resolve(ctx, b)
	if err != nil {
		return nil, err
	}
	// resolve let go of l.mu: look again.
	if err := l.admit(len(entries)); err != nil {
		return nil, err
	}
	if err := l.assign(b, known); err != nil {
		return nil, err
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return &Future{b: b}, nil
}

// admit returns why a batch of n entries cannot be queued now, or nil.
// l.mu is held.
func (l *Ledger) admit(n int) error {
	switch {
	case l.cfg.ReadOnly:
		return ErrReadOnly
	case l.failed != nil:
		return l.failed
	case l.closed:
		return ErrClosed
	case l.pooled+n > l.cfg.MaxPending && l.pooled > 0,
		len(l.unstored) > l.cfg.MaxUnstoredKeys:
		l.cfg.Metrics.pushback()
		return ErrPushback
	}
	return nil
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
	f, err := l.Add(ctx, entries)
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

// Published returns the latest published checkpoint note and its size:
// this instance's, or a newer one another instance sharing the storage
// published (looked up every PublishInterval).
func (l *Ledger) Published() ([]byte, uint64) { return l.pub.latest() }

// FirstCovering returns the first published checkpoint that covers the
// entry at index, with the cosignatures it was published with (see
// CheckpointHistory), and its size. It fails with ErrNoHistory when the
// storage keeps no history, and with an error wrapping tiles.ErrNotFound
// when no published checkpoint covers the entry yet.
func (l *Ledger) FirstCovering(ctx context.Context, index uint64) ([]byte, uint64, error) {
	h, ok := l.cfg.Storage.(CheckpointHistory)
	if !ok {
		return nil, 0, ErrNoHistory
	}
	note, err := h.FirstCovering(ctx, index)
	if err != nil {
		return nil, 0, err
	}
	cp, err := tiles.ParseNoteCheckpoint(note)
	if err != nil {
		return nil, 0, fmt.Errorf("the stored checkpoint covering entry %d: %w", index, err)
	}
	return note, cp.Size, nil
}

// PublishedCovering is Published for a read of the tree of size entries:
// when the checkpoint this instance knows is smaller and the storage is
// shared, it first looks up the newest one published there, so that a
// read another instance's checkpoint covers is answered, not refused. A
// failed look-up is logged, and the known checkpoint returned.
func (l *Ledger) PublishedCovering(ctx context.Context, size uint64) ([]byte, uint64) {
	if note, have := l.pub.latest(); have >= size {
		return note, have
	}
	if err := l.pub.refresh(ctx); err != nil {
		l.log.Warn("couldn't look up the newest published checkpoint", "err", err)
	}
	return l.pub.latest()
}

// Quorum reports whether witnesses are configured, and if so whether the
// published checkpoint meets their quorum.
func (l *Ledger) Quorum() (configured, met bool) { return l.pub.quorum() }

// Committed returns the committed state.
func (l *Ledger) Committed() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.committed
}

// Healthy reports why the ledger cannot sequence, or nil. After a failed
// flush it reports a pushback (ErrPushback) until the sequencer has
// reloaded the committed state, which it retries with backoff for as long
// as storage fails; and for 10 s after a flush or a publish failed, an
// ErrStorage.
func (l *Ledger) Healthy() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return l.failed
	}
	if l.closed {
		return ErrClosed
	}
	if !l.lastFailure.IsZero() && l.cfg.Clock().Sub(l.lastFailure) < healthHold {
		return errFailedRecently
	}
	return nil
}

// healthHold is how long Healthy reports a failed flush or publish.
const healthHold = 10 * time.Second

// errFailedRecently is Healthy's answer for healthHold after a flush or a
// publish failed, even if the next one worked: a disk that is nearly full
// fails some flushes and not others.
var errFailedRecently = fmt.Errorf("%w: a flush or a publish failed within the last %s; the server's log says why", ErrStorage, healthHold)

// failedNow records that a flush or a publish failed, for Healthy.
func (l *Ledger) failedNow() {
	l.mu.Lock()
	l.lastFailure = l.cfg.Clock()
	l.mu.Unlock()
}

// Close stops accepting entries, waits for pending ones to be flushed, their
// keys stored and their checkpoint published, and stops the ledger.
func (l *Ledger) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.closing)
	l.mu.Unlock()
	if l.cfg.ReadOnly {
		l.pub.stop()
		return nil
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
	select {
	case <-l.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if l.per != nil {
		if err := l.per.drain(ctx); err != nil {
			return err
		}
	}
	l.pub.stop()
	return l.pub.publishNow(ctx)
}
