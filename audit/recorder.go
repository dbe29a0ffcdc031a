package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/ledger-dev/ledger/audit/spool"
)

// FullPolicy says what Record and Enqueue do when the queue is full.
type FullPolicy int

const (
	// Block waits for room in the queue (Record: until its context is done).
	Block FullPolicy = iota
	// Reject returns ErrQueueFull at once.
	Reject
)

// Errors of a Recorder.
var (
	// ErrQueueFull is returned by Record and Enqueue under the Reject
	// policy when the queue is full: the spool is being written more slowly
	// than events arrive, or it reached MaxSpoolBytes during a long outage.
	ErrQueueFull = errors.New("audit: recorder queue is full")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("audit: recorder is closed")
)

// RecorderConfig configures a Recorder. Zero values take the documented
// defaults.
type RecorderConfig struct {
	// Client sends the events to the ledger. Required.
	Client *Client
	// Dir is the spool directory, created if missing. Required. One
	// process at a time may use it (it is locked).
	Dir string
	// QueueSize bounds the events waiting in memory to be written to the
	// spool. Default 10000.
	QueueSize int
	// OnFull is what Record and Enqueue do when the queue is full. Default
	// Block.
	OnFull FullPolicy
	// MaxSpoolBytes bounds the spool on disk: past it, no more events are
	// written to it until the ledger acknowledges some, and the queue fills
	// up. One group commit may take the spool past it, and acknowledged
	// events count until their segment is deleted, unless all are
	// acknowledged. Default 1 GiB.
	MaxSpoolBytes int64
	// SegmentBytes is the size of the spool's segment files. Default 4 MiB.
	SegmentBytes int64
	// BatchSize and BatchBytes bound one request to the ledger. Defaults
	// 500 events and 1 MiB.
	BatchSize, BatchBytes int
	// Logger receives outages, recoveries and rejected events. Default: the
	// Client's.
	Logger *slog.Logger
}

func (c *RecorderConfig) validate() error {
	if c.Client == nil || c.Dir == "" {
		return errors.New("audit: RecorderConfig.Client and Dir are required")
	}
	if c.QueueSize < 0 || c.MaxSpoolBytes < 0 || c.BatchSize < 0 || c.BatchBytes < 0 {
		return errors.New("audit: RecorderConfig sizes must not be negative")
	}
	if c.OnFull != Block && c.OnFull != Reject {
		return fmt.Errorf("audit: RecorderConfig.OnFull is %d, want Block or Reject", c.OnFull)
	}
	c.QueueSize = cmp.Or(c.QueueSize, 10000)
	c.MaxSpoolBytes = cmp.Or(c.MaxSpoolBytes, 1<<30)
	c.BatchSize = cmp.Or(c.BatchSize, 500)
	c.BatchBytes = cmp.Or(c.BatchBytes, 1<<20)
	if c.Logger == nil {
		c.Logger = c.Client.log
	}
	return nil
}

// Recorder records events asynchronously: Record returns once the event is
// durable in an on-disk spool, and a background sender ships the spool to
// the ledger in batches, deleting events only once the ledger acknowledged
// them (wait=durable). When the ledger is down, events accumulate in the
// spool and are sent when it is back; when the application restarts, a new
// Recorder on the same Dir sends what the spool holds. Each event's ID is
// fixed before it reaches the spool, so an event sent twice (a retry, or a
// replay after a crash) is logged once.
//
// Events the ledger refuses (400, 413, 422, and a 403 naming the event's
// tenant: it cannot accept them however often they are sent) are moved to
// DIR/rejected.ndjson, one JSON line each with the ledger's error, so that
// they neither block the events behind them nor disappear. A 401, or a 403
// for the token's role, is the token's problem, not the events': they stay
// in the spool and are sent once the token works.
type Recorder struct {
	cfg   RecorderConfig
	c     *Client
	log   *slog.Logger
	spool *spool.Spool

	mu           sync.RWMutex // held to send on queue; Close takes it to close queue
	closed       bool
	closeStarted atomic.Bool
	queue        chan item
	closing      chan struct{} // closed when Close starts
	stop         chan struct{} // closed to stop the sender
	wake         chan struct{} // the writer appended to the spool
	stopCtx      context.Context
	cancel       context.CancelFunc

	writerDone, senderDone chan struct{}

	pmu      sync.Mutex
	written  spool.Position // end of the spool as the writer left it
	acked    spool.Position // everything before it is acknowledged
	progress chan struct{}  // closed and replaced when acked moves

	sent, duplicates, rejected, lost atomic.Uint64
}

// item is an event's JSON on its way to the spool; done, if set, receives
// the spool's verdict. An item without payload is a Flush marker.
type item struct {
	payload []byte
	done    chan error
}

// NewRecorder opens the spool in cfg.Dir and starts the writer and the
// sender; the sender starts with the events already in the spool.
func NewRecorder(_ context.Context, cfg RecorderConfig) (*Recorder, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sp, err := spool.Open(spool.Config{Dir: cfg.Dir, SegmentBytes: cfg.SegmentBytes, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{
		cfg: cfg, c: cfg.Client, log: cfg.Logger, spool: sp,
		queue: make(chan item, cfg.QueueSize), closing: make(chan struct{}), stop: make(chan struct{}),
		wake: make(chan struct{}, 1), stopCtx: ctx, cancel: cancel,
		writerDone: make(chan struct{}), senderDone: make(chan struct{}),
		written: sp.End(), progress: make(chan struct{}),
	}
	go r.write()
	go r.send()
	return r, nil
}

// Record validates ev, gives it an ID and a Timestamp if it has none (set
// on ev, as Client.Append does), and returns once it is durable in the
// spool: from then on neither a crash of the application nor an outage of
// the ledger loses it. An invalid event is an *Error and is not recorded.
// If ctx ends first the event may still be recorded.
func (r *Recorder) Record(ctx context.Context, ev *Event) error {
	payload, _, err := r.c.prep.prepare(ev)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	if err := r.enqueue(ctx, item{payload: payload, done: done}, r.cfg.OnFull); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: %w before the event %s was written to the spool (it may still be)", ctx.Err(), ev.ID)
	}
}

// Enqueue is Record without the wait: it returns once the event is in the
// in-memory queue, and the event is durable in the spool after the next
// group commit (about an fsync later). A crash of the application in that
// window loses it; a Close does not.
func (r *Recorder) Enqueue(ev *Event) error {
	payload, _, err := r.c.prep.prepare(ev)
	if err != nil {
		return err
	}
	return r.enqueue(context.Background(), item{payload: payload}, r.cfg.OnFull)
}

// enqueue puts it on the queue, or fails with ErrQueueFull at once if the
// queue is full and policy is Reject.
func (r *Recorder) enqueue(ctx context.Context, it item, policy FullPolicy) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return ErrClosed
	}
	if policy == Reject {
		select {
		case r.queue <- it:
			return nil
		default:
			return ErrQueueFull
		}
	}
	select {
	case r.queue <- it:
		return nil
	case <-r.closing:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("audit: %w while the recorder queue was full", ctx.Err())
	}
}

// Flush waits until every event recorded before the call, and every event
// the spool held when the Recorder started, is acknowledged by the ledger.
// It waits for room in a full queue under either OnFull policy.
func (r *Recorder) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	// The marker waits behind the events queued before it: under Reject, a
	// full queue would fail the Flush of the very events filling it.
	if err := r.enqueue(ctx, item{done: done}, Block); err != nil {
		return err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.pmu.Lock()
	target := r.written
	r.pmu.Unlock()
	return r.waitAcked(ctx, target)
}

func (r *Recorder) waitAcked(ctx context.Context, target spool.Position) error {
	for {
		r.pmu.Lock()
		acked, ch := r.acked, r.progress
		r.pmu.Unlock()
		if !acked.Less(target) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops accepting events, writes the queue to the spool, and keeps
// sending until the spool is empty or ctx is done; what is left stays in
// the spool for the next Recorder on the same Dir, and Close then returns an
// error saying so.
func (r *Recorder) Close(ctx context.Context) error {
	if !r.closeStarted.CompareAndSwap(false, true) {
		return ErrClosed
	}
	close(r.closing)
	r.mu.Lock()
	r.closed = true
	close(r.queue)
	r.mu.Unlock()
	<-r.writerDone
	r.pmu.Lock()
	target := r.written
	r.pmu.Unlock()
	drained := r.waitAcked(ctx, target)
	close(r.stop)
	r.cancel()
	<-r.senderDone
	err := r.spool.Close()
	if drained != nil {
		return fmt.Errorf("audit: events not yet acknowledged stay in the spool %s: %w", r.cfg.Dir, drained)
	}
	return err
}

// Stats counts what a Recorder did since it started.
type Stats struct {
	// Queued is the number of events waiting to be written to the spool.
	Queued int
	// SpoolBytes is the size of the spool on disk.
	SpoolBytes int64
	// Sent counts events the ledger acknowledged, Duplicates those of them
	// it had logged before (replays), Rejected those moved to
	// rejected.ndjson, Lost those accepted by Enqueue whose spool write
	// failed.
	Sent, Duplicates, Rejected, Lost uint64
}

// Stats returns the Recorder's counters.
func (r *Recorder) Stats() Stats {
	return Stats{
		Queued: len(r.queue), SpoolBytes: r.spool.Bytes(),
		Sent: r.sent.Load(), Duplicates: r.duplicates.Load(), Rejected: r.rejected.Load(), Lost: r.lost.Load(),
	}
}

// maxGroup bounds the events written to the spool with one fsync.
const maxGroup = 1024

// write moves events from the queue to the spool, in group commits: all
// the events waiting when a write starts share its fsync.
func (r *Recorder) write() {
	defer close(r.writerDone)
	group := make([]item, 0, maxGroup)
	payloads := make([][]byte, 0, maxGroup)
	for it := range r.queue {
		group = append(group[:0], it)
	fill:
		for len(group) < maxGroup {
			select {
			case it, ok := <-r.queue:
				if !ok {
					break fill
				}
				group = append(group, it)
			default:
				break fill
			}
		}
		r.waitForRoom()
		payloads = payloads[:0]
		for _, it := range group {
			if it.payload != nil {
				payloads = append(payloads, it.payload)
			}
		}
		err := r.appendSpool(payloads)
		for _, it := range group {
			if it.done != nil {
				it.done <- err
			} else if err != nil && it.payload != nil {
				r.lost.Add(1)
			}
		}
	}
}

// appendSpool writes payloads to the spool and wakes the sender.
func (r *Recorder) appendSpool(payloads [][]byte) error {
	if len(payloads) == 0 {
		return nil
	}
	end, err := r.spool.Append(payloads...)
	if err != nil {
		r.log.Error("couldn't write events to the spool", "events", len(payloads), "err", err)
		return fmt.Errorf("audit: %w", err)
	}
	r.pmu.Lock()
	r.written = end
	r.pmu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// waitForRoom waits while the spool is over MaxSpoolBytes with events the
// ledger has not acknowledged, unless the Recorder is closing: Close writes
// the queue to the spool regardless.
//
// Bytes counts acknowledged records too until their segment is deleted,
// and the active segment is deleted only by the next Append, which this
// wait comes before: once everything written is acknowledged, there is
// room whatever Bytes says, or the writer would wait for an Append that
// only it can make.
func (r *Recorder) waitForRoom() {
	warned := false
	for {
		r.pmu.Lock()
		pending, progress := r.acked.Less(r.written), r.progress
		r.pmu.Unlock()
		if !pending || r.spool.Bytes() <= r.cfg.MaxSpoolBytes {
			return
		}
		if !warned {
			r.log.Warn("audit spool is full; waiting for the ledger", "bytes", r.spool.Bytes(), "max", r.cfg.MaxSpoolBytes)
			warned = true
		}
		// Segments are deleted by the sender's Ack, which then moves acked.
		select {
		case <-r.closing:
			return
		case <-progress:
		}
	}
}
