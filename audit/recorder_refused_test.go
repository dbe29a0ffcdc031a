package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/audit"
	"github.com/ledger-dev/ledger/audit/audittest"
	"github.com/ledger-dev/ledger/ledger/event"
)

// Events the ledger refuses, and a full queue.

// rejectedLine is a line of DIR/rejected.ndjson.
type rejectedLine struct {
	Time   time.Time
	Status int
	Error  string
	Event  audit.Event
}

func readRejected(t *testing.T, dir string) []rejectedLine {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "rejected.ndjson"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []rejectedLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l rejectedLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("rejected.ndjson: %v: %s", err, sc.Bytes())
		}
		lines = append(lines, l)
	}
	return lines
}

func TestRejectedEvents(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits event.Limits
		bad    func(ev *audit.Event) // nil: every event is acceptable alone
		status int
		field  string // in the ledger's error
	}{
		{"field longer than the ledger allows", event.Limits{MaxFieldBytes: 100},
			func(ev *audit.Event) { ev.Reason = strings.Repeat("because ", 20) }, http.StatusBadRequest, "reason"},
		{"more tags than the ledger allows", event.Limits{MaxTags: 2},
			func(ev *audit.Event) { ev.Tags = map[string]string{"a": "1", "b": "2", "c": "3"} }, http.StatusBadRequest, "tags"},
		{"event larger than the ledger allows", event.Limits{MaxEventBytes: 1024},
			func(ev *audit.Event) { ev.Reason = strings.Repeat("because ", 250) }, http.StatusRequestEntityTooLarge, "1024"},
		{"batch larger than the ledger allows", event.Limits{MaxBatch: 2}, nil, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The events reach the spool while the ledger is down, so that
			// the refused ones travel in one batch with the others.
			addr, url := downLedger(t)
			dir := t.TempDir()
			r := newRecorder(t, url, audit.RecorderConfig{Dir: dir})
			evs := testEvents(0, 8)
			var bad []int
			if tc.bad != nil {
				bad = []int{0, 3, 4}
				for _, i := range bad {
					tc.bad(evs[i])
				}
			}
			ids := record(t, r, evs...)
			lg := audittest.Start(t, audittest.Config{Addr: addr, Limits: tc.limits})
			if err := r.Flush(timeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			var good, refused []string
			for i, id := range ids {
				if slices.Contains(bad, i) {
					refused = append(refused, id)
				} else {
					good = append(good, id)
				}
			}
			if s := r.Stats(); s.Sent != uint64(len(good)) || s.Rejected != uint64(len(refused)) {
				t.Errorf("stats: %+v", s)
			}
			if got := idsOf(waitLog(t, lg, len(good))); !slices.Equal(got, good) {
				t.Errorf("log:\n%q\nwant:\n%q", got, good)
			}
			lines := readRejected(t, dir)
			if len(lines) != len(refused) {
				t.Fatalf("rejected.ndjson has %d lines, want %d", len(lines), len(refused))
			}
			for i, l := range lines {
				if l.Event.ID != refused[i] || l.Status != tc.status || !strings.Contains(l.Error, tc.field) || l.Time.IsZero() {
					t.Errorf("rejected line %d: %+v, want event %s refused with %d about %q", i, l, refused[i], tc.status, tc.field)
				}
			}
		})
	}
}

// idList collects the IDs of events accepted from several goroutines.
type idList struct {
	mu  sync.Mutex
	ids []string
}

func (l *idList) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, id)
}

func (l *idList) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ids)
}

// fillQueue fills the queue of r, a Recorder whose writer waits for room in
// the spool (it logged so to w), with events whose IDs it adds to ids.
// Under Block the last Enqueue blocks: it returns a function that stops
// the goroutine enqueuing and waits for it, once there is room again.
func fillQueue(t *testing.T, r *audit.Recorder, policy audit.FullPolicy, queueSize int, ids *idList) (stop func()) {
	t.Helper()
	enqueue := func(i int) error {
		ev := testEvent(i)
		err := r.Enqueue(ev)
		if err == nil {
			ids.add(ev.ID)
		}
		return err
	}
	if policy == audit.Reject {
		for i := 1; ; i++ {
			if err := enqueue(i); errors.Is(err, audit.ErrQueueFull) {
				return func() {}
			} else if err != nil || i > queueSize {
				t.Fatalf("Enqueue %d with the writer waiting: %v", i, err)
			}
		}
	}
	var (
		stopped atomic.Bool
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		for i := 1; !stopped.Load(); i++ {
			if err := enqueue(i); err != nil {
				return // ErrClosed: the test failed
			}
		}
	})
	for deadline := time.Now().Add(5 * time.Second); r.Stats().Queued < queueSize; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the queue did not fill up: %+v", r.Stats())
		}
	}
	return func() {
		stopped.Store(true)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the queue did not drain: %+v", r.Stats())
		}
	}
}

func TestQueueFull(t *testing.T) {
	const queueSize = 2
	for name, policy := range map[string]audit.FullPolicy{"Reject": audit.Reject, "Block": audit.Block} {
		t.Run(name, func(t *testing.T) {
			// A one-byte spool is full after the first event and stays full
			// while the ledger is down: the writer takes one more group
			// from the queue, says so, and waits.
			addr, url := downLedger(t)
			w := &logWatch{t: t, msg: "audit spool is full", seen: make(chan struct{})}
			r := newRecorder(t, url, audit.RecorderConfig{
				QueueSize: queueSize, MaxSpoolBytes: 1, OnFull: policy, Logger: slog.New(slog.NewTextHandler(w, nil)),
			})
			var ids idList
			ids.add(record(t, r, testEvent(0))[0])
			waiting := testEvent(1)
			if err := r.Enqueue(waiting); err != nil {
				t.Fatal(err)
			}
			ids.add(waiting.ID)
			select {
			case <-w.seen:
			case <-time.After(5 * time.Second):
				t.Fatalf("the writer did not wait for room in the spool: %+v", r.Stats())
			}
			stop := fillQueue(t, r, policy, queueSize, &ids)

			late := testEvent(1000)
			err := r.Record(timeout(t, 50*time.Millisecond), late)
			if policy == audit.Reject && !errors.Is(err, audit.ErrQueueFull) ||
				policy == audit.Block && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Record with the queue full: %v", err)
			}
			if policy == audit.Reject {
				if err := r.Enqueue(testEvent(1001)); !errors.Is(err, audit.ErrQueueFull) {
					t.Fatalf("Enqueue with the queue full: %v", err)
				}
			}
			if s := r.Stats(); s.Queued != queueSize {
				t.Fatalf("a refused event took room in the queue: %+v", s)
			}
			// Flush waits for room under either policy.
			if err := r.Flush(timeout(t, 50*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Flush with the queue full and the ledger down: %v", err)
			}

			// The ledger comes back: the spool drains, and the writer goes
			// on with the events queued.
			lg := audittest.Start(t, audittest.Config{Addr: addr})
			stop()
			if err := r.Flush(timeout(t, 10*time.Second)); err != nil {
				t.Fatalf("Flush once the ledger is back: %v (%+v)", err, r.Stats())
			}
			log := waitLog(t, lg, len(ids.all()))
			checkOnce(t, log, ids.all())
			if slices.Contains(idsOf(log), late.ID) {
				t.Errorf("the event refused for a full queue is in the log")
			}
		})
	}
}
