package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/audit"
	"github.com/ledger-dev/ledger/audit/audittest"
	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger/event"
)

// logWatch writes to t.Log and closes seen once a log line contains msg.
type logWatch struct {
	t    testing.TB
	msg  string
	once sync.Once
	seen chan struct{}
}

func (w *logWatch) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.msg) {
		w.once.Do(func() { close(w.seen) })
	}
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newRecorder starts a Recorder sending to url, with quick retries and logs
// in the test's output; it is closed when the test ends if it is still open.
func newRecorder(t *testing.T, url string, cfg audit.RecorderConfig) *audit.Recorder {
	t.Helper()
	if cfg.Client == nil {
		cfg.Client = newClient(t, audit.Config{URL: url})
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = testlog.New(t)
	}
	r, err := audit.NewRecorder(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return r
}

// downLedger returns an address where nothing listens and its URL: a ledger
// that is down, to be started there later.
func downLedger(t *testing.T) (addr, url string) {
	addr = audittest.FreeAddr(t)
	return addr, "http://" + addr + "/"
}

// timeout returns a context that ends after d, or with the test.
func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func record(t *testing.T, r *audit.Recorder, evs ...*audit.Event) []string {
	t.Helper()
	var ids []string
	for _, ev := range evs {
		if err := r.Record(t.Context(), ev); err != nil {
			t.Fatalf("Record: %v", err)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

func testEvents(from, to int) []*audit.Event {
	var evs []*audit.Event
	for i := from; i < to; i++ {
		evs = append(evs, testEvent(i))
	}
	return evs
}

func idsOf(events []*event.Event) []string {
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = ev.ID
	}
	return ids
}

// checkOnce fails the test unless the log holds exactly the events want,
// each once, in any order.
func checkOnce(t *testing.T, log []*event.Event, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, ev := range log {
		count[ev.ID]++
	}
	for _, id := range want {
		if count[id] != 1 {
			t.Errorf("event %s is in the log %d times", id, count[id])
		}
	}
	if len(log) != len(want) {
		t.Errorf("the log has %d events, want %d", len(log), len(want))
	}
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRecordFlush(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	dir := t.TempDir()
	r := newRecorder(t, lg.URL, audit.RecorderConfig{Dir: dir})
	ev := testEvent(1)
	ev.TenantID, ev.IPAddress, ev.Reason = "tenant-a", "2001:DB8::0:1", "ticket 42"
	ev.Tags = map[string]string{"api_key": "sk-live-1", "team": "a"}
	ev.Changes = map[string]audit.Change{"title": {Old: json.RawMessage(`"draft"`), New: json.RawMessage(`"final"`)}}
	if err := r.Record(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID == "" || ev.Timestamp.IsZero() || ev.IPAddress != "2001:db8::1" || ev.Tags["api_key"] != "sk-live-1" {
		t.Fatalf("Record left the caller's event as %+v", ev)
	}
	if err := r.Flush(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Sent != 1 || s.Duplicates != 0 || s.Rejected != 0 || s.Lost != 0 || s.Queued != 0 {
		t.Fatalf("stats after Flush: %+v", s)
	}
	got := waitLog(t, lg, 1)[0]
	want := *ev
	want.Tags = map[string]string{"api_key": event.Redacted, "team": "a"}
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("timestamp in the log %v, recorded %v", got.Timestamp, want.Timestamp)
	}
	got.Timestamp = want.Timestamp
	// The ledger stamped when it received the event, and that no token was
	// used (this ledger's API is open).
	if got.ReceivedAt.Before(want.Timestamp) || got.Submitter != (event.Submitter{Type: event.SubmitterOpen}) {
		t.Errorf("in the log: received_at %v, submitter %+v; want after %v, open", got.ReceivedAt, got.Submitter, want.Timestamp)
	}
	want.ReceivedAt, want.Submitter = got.ReceivedAt, got.Submitter
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("in the log:\n%+v\nwant (secret redacted):\n%+v", got, &want)
	}
	if err := r.Close(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// A drained spool leaves no segment behind.
	if files := segments(t, dir); len(files) != 0 || r.Stats().SpoolBytes != 0 {
		t.Fatalf("after Close: segments %v, %d bytes", files, r.Stats().SpoolBytes)
	}
}

func TestEnqueueConcurrent(t *testing.T) {
	const goroutines, each = 8, 250
	lg := audittest.Start(t, audittest.Config{})
	// Small batches and segments, so that the sender makes many requests
	// and the spool rotates and deletes segments while the writer appends.
	r := newRecorder(t, lg.URL, audit.RecorderConfig{BatchSize: 50, SegmentBytes: 16 << 10})
	ids := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				ev := testEvent(g*each + i)
				if err := r.Enqueue(ev); err != nil {
					t.Errorf("Enqueue: %v", err)
					return
				}
				ids[g] = append(ids[g], ev.ID)
			}
		})
	}
	wg.Wait()
	if err := r.Close(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Sent != goroutines*each || s.Duplicates != 0 || s.Lost != 0 || s.SpoolBytes != 0 {
		t.Errorf("stats after Close: %+v", s)
	}
	checkOnce(t, waitLog(t, lg, goroutines*each), slices.Concat(ids...))
}

func TestLedgerRestarted(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	r := newRecorder(t, lg.URL, audit.RecorderConfig{})
	ids := record(t, r, testEvents(0, 5)...)
	if err := r.Flush(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitLog(t, lg, 5)

	lg.Stop()
	ids = append(ids, record(t, r, testEvents(5, 25)...)...)
	if s := r.Stats(); s.SpoolBytes == 0 || s.Sent != 5 {
		t.Fatalf("with the ledger down: %+v", s)
	}
	if err := r.Flush(timeout(t, 200*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with the ledger down: %v", err)
	}

	lg = audittest.Start(t, audittest.Config{Dir: lg.Dir, Addr: lg.Addr, Key: lg.Key})
	if err := r.Flush(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Sent != 25 || s.Duplicates != 0 || s.Rejected != 0 {
		t.Errorf("stats after the ledger came back: %+v", s)
	}
	// One goroutine recorded them: the log has them in that order.
	if got := idsOf(waitLog(t, lg, 25)); !slices.Equal(got, ids) {
		t.Errorf("log:\n%q\nrecorded:\n%q", got, ids)
	}
}

func TestCloseLeavesUnsentEventsToTheNextRecorder(t *testing.T) {
	addr, url := downLedger(t)
	dir := t.TempDir()
	r := newRecorder(t, url, audit.RecorderConfig{Dir: dir})
	ids := record(t, r, testEvents(0, 5)...)
	// Enqueued events are still in memory; Close writes them to the spool.
	for _, ev := range testEvents(5, 10) {
		if err := r.Enqueue(ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	err := r.Close(timeout(t, 200*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Close with the ledger down: %v", err)
	}
	if s := r.Stats(); s.Sent != 0 || s.Lost != 0 || s.SpoolBytes == 0 {
		t.Fatalf("stats after Close: %+v", s)
	}

	lg := audittest.Start(t, audittest.Config{Addr: addr})
	next := newRecorder(t, url, audit.RecorderConfig{Dir: dir})
	if err := next.Flush(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := next.Close(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := next.Stats(); s.Sent != 10 || s.Duplicates != 0 {
		t.Errorf("the next Recorder's stats: %+v", s)
	}
	if got := idsOf(waitLog(t, lg, 10)); !slices.Equal(got, ids) {
		t.Errorf("log:\n%q\nrecorded:\n%q", got, ids)
	}
}

func TestClosedRecorder(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	r := newRecorder(t, lg.URL, audit.RecorderConfig{})
	if err := r.Close(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"Record":  func() error { return r.Record(t.Context(), testEvent(1)) },
		"Enqueue": func() error { return r.Enqueue(testEvent(2)) },
		"Flush":   func() error { return r.Flush(t.Context()) },
		"Close":   func() error { return r.Close(t.Context()) },
	} {
		if err := call(); !errors.Is(err, audit.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if s := r.Stats(); s != (audit.Stats{}) {
		t.Errorf("stats: %+v", s)
	}
}

func TestInvalidEvent(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	dir := t.TempDir()
	r := newRecorder(t, lg.URL, audit.RecorderConfig{Dir: dir})
	manyTags := map[string]string{}
	for i := range 20 {
		manyTags[fmt.Sprintf("tag%d", i)] = strings.Repeat("x", 4000)
	}
	for _, tc := range []struct {
		name   string
		change func(ev *audit.Event)
		field  string // of the first problem; "" for the event as a whole
	}{
		{"actor type", func(ev *audit.Event) { ev.Actor.Type = "robot" }, "actor.type"},
		{"no action", func(ev *audit.Event) { ev.Action = "" }, "action"},
		{"result", func(ev *audit.Event) { ev.Result = "ok" }, "result"},
		{"over 32 KiB", func(ev *audit.Event) { ev.Tags = manyTags }, ""},
	} {
		for method, call := range map[string]func(ev *audit.Event) error{
			"Record":  func(ev *audit.Event) error { return r.Record(t.Context(), ev) },
			"Enqueue": r.Enqueue,
		} {
			ev := testEvent(1)
			tc.change(ev)
			err := call(ev)
			var e *audit.Error
			if !errors.As(err, &e) || e.Status != 0 {
				t.Errorf("%s of an event with a bad %s: %v, want an *Error", method, tc.name, err)
				continue
			}
			if tc.field != "" && (len(e.Details) == 0 || e.Details[0].Field != tc.field) {
				t.Errorf("%s of an event with a bad %s: details %v, want field %s", method, tc.name, e.Details, tc.field)
			}
		}
	}
	if s := r.Stats(); s.Queued != 0 || s.SpoolBytes != 0 || len(segments(t, dir)) != 0 {
		t.Fatalf("invalid events reached the spool: %+v", s)
	}
	ids := record(t, r, testEvent(2))
	if err := r.Flush(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, waitLog(t, lg, 1), ids)
}

// copySpool copies the segments of a spool directory: what a SIGKILL would
// leave of it, since the acknowledgement cursor lives in memory.
func copySpool(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	files := segments(t, from)
	if len(files) == 0 {
		t.Fatalf("no segments in %s", from)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

func TestDuplicates(t *testing.T) {
	t.Run("replay after a crash", func(t *testing.T) {
		lg := audittest.Start(t, audittest.Config{})
		dir := t.TempDir()
		first := newRecorder(t, lg.URL, audit.RecorderConfig{Dir: dir})
		ids := record(t, first, testEvents(0, 5)...)
		if err := first.Flush(timeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		// The ledger acknowledged the events; the application dies before
		// its spool deleted them.
		crashed := copySpool(t, dir)
		if err := first.Close(timeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		next := newRecorder(t, lg.URL, audit.RecorderConfig{Dir: crashed})
		ids = append(ids, record(t, next, testEvent(5))...)
		if err := next.Close(timeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if s := next.Stats(); s.Sent != 6 || s.Duplicates != 5 {
			t.Errorf("stats of the replay: %+v, want 6 sent of which 5 duplicates", s)
		}
		if got := idsOf(waitLog(t, lg, 6)); !slices.Equal(got, ids) {
			t.Errorf("log:\n%q\nrecorded:\n%q", got, ids)
		}
	})
	t.Run("retry after a lost answer", func(t *testing.T) {
		lg := audittest.Start(t, audittest.Config{})
		p := newLossyProxy(t, lg.URL, 1)
		r := newRecorder(t, p.URL, audit.RecorderConfig{})
		ids := record(t, r, testEvent(0))
		if err := r.Flush(timeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		posts := p.posts
		p.mu.Unlock()
		if s := r.Stats(); s.Sent != 1 || s.Duplicates != 1 || posts != 2 {
			t.Errorf("stats after %d posts: %+v, want 1 sent, a duplicate", posts, s)
		}
		checkOnce(t, waitLog(t, lg, 1), ids)
	})
}

func TestRecorderConfig(t *testing.T) {
	c := newClient(t, audit.Config{URL: "http://127.0.0.1:1/"})
	dir := t.TempDir()
	for _, cfg := range []audit.RecorderConfig{
		{Dir: dir},
		{Client: c},
		{Client: c, Dir: dir, QueueSize: -1},
		{Client: c, Dir: dir, MaxSpoolBytes: -1},
		{Client: c, Dir: dir, BatchSize: -1},
		{Client: c, Dir: dir, BatchBytes: -1},
		{Client: c, Dir: dir, SegmentBytes: -1},
		{Client: c, Dir: dir, OnFull: 7},
	} {
		if r, err := audit.NewRecorder(t.Context(), cfg); err == nil {
			r.Close(t.Context())
			t.Errorf("NewRecorder(%+v) succeeded", cfg)
		}
	}
	newRecorder(t, "", audit.RecorderConfig{Client: c, Dir: dir})
	if r, err := audit.NewRecorder(t.Context(), audit.RecorderConfig{Client: c, Dir: dir}); err == nil {
		r.Close(t.Context())
		t.Errorf("a second Recorder opened the spool of a running one")
	}
}
