package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledger-dev/ledger/audit"
	"github.com/ledger-dev/ledger/audit/audittest"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/tiles"
)

func newClient(t *testing.T, cfg audit.Config) *audit.Client {
	t.Helper()
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 5*time.Millisecond, 50*time.Millisecond
	}
	c, err := audit.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testEvent(n int) *audit.Event {
	return &audit.Event{
		EventType: "document.read", Action: "read",
		Actor:    audit.Actor{ID: fmt.Sprintf("user-%d", n), Type: "user"},
		Resource: audit.Resource{Type: "document", ID: fmt.Sprintf("doc-%d", n)},
		Result:   audit.ResultSuccess,
	}
}

func TestAppendAndVerifyReceipt(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	c := newClient(t, audit.Config{URL: lg.URL, Wait: "published"})
	first, second := testEvent(1), testEvent(2)
	first.Tags = map[string]string{"api_key": "sk-live-1", "team": "a"}
	second.ID = "order-7"
	rs, err := c.Append(t.Context(), first, second)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := uuid.Parse(first.ID); err != nil || u.Version() != 7 {
		t.Fatalf("Append gave the event ID %q, want a UUIDv7", first.ID)
	}
	if first.Timestamp.IsZero() || first.Tags["api_key"] != "sk-live-1" {
		t.Fatalf("the caller's event: timestamp %v, tags %v", first.Timestamp, first.Tags)
	}
	if len(rs) != 2 || rs[0].ID != first.ID || rs[1].ID != "order-7" || rs[0].Index != 0 || rs[1].Index != 1 {
		t.Fatalf("receipts: %+v", rs)
	}
	for _, r := range rs {
		if r.Leaf == nil || tiles.LeafHash(r.Leaf) != r.LeafHash {
			t.Fatalf("receipt %d carries no leaf, or one that does not hash to its leaf hash", r.Index)
		}
	}
	if bytes.Contains(rs[0].Leaf, []byte("sk-live-1")) || !bytes.Contains(rs[0].Leaf, []byte(event.Redacted)) {
		t.Fatalf("the secret tag was not redacted: %s", rs[0].Leaf)
	}
	policy := lg.Key.Policy(t)
	for _, r := range rs {
		v, err := c.VerifyReceipt(t.Context(), r, policy)
		if err != nil {
			t.Fatalf("receipt %d: %v", r.Index, err)
		}
		if v.Checkpoint.Size < 2 || !bytes.Equal(v.Leaf, r.Leaf) {
			t.Fatalf("receipt %d verified against size %d with leaf %s", r.Index, v.Checkpoint.Size, v.Leaf)
		}
	}
	// A receipt survives a JSON round trip, e.g. through the app's database.
	b, err := json.Marshal(rs[0])
	if err != nil {
		t.Fatal(err)
	}
	var back audit.Receipt
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, rs[0]) {
		t.Fatalf("receipt JSON round trip: %s -> %+v (%v)", b, back, err)
	}

	other := audittest.NewKey(t, "example.com/audittest")
	for _, tc := range []struct {
		name   string
		change func(r *audit.Receipt)
		policy *tiles.Policy
		want   error
	}{
		{"leaf hash", func(r *audit.Receipt) { r.LeafHash[0] ^= 1; r.Leaf = nil }, policy, audit.ErrReceiptMismatch},
		{"id", func(r *audit.Receipt) { r.ID = "order-8" }, policy, audit.ErrReceiptMismatch},
		{"leaf bytes", func(r *audit.Receipt) { r.Leaf = bytes.Replace(r.Leaf, []byte("doc-1"), []byte("doc-9"), 1) }, policy, audit.ErrReceiptMismatch},
		{"index", func(r *audit.Receipt) { r.Index = 1 }, policy, audit.ErrReceiptMismatch},
		{"beyond the log", func(r *audit.Receipt) { r.Index = 99 }, policy, audit.ErrNotPublished},
		{"another log's key", func(r *audit.Receipt) {}, other.Policy(t), tiles.ErrNoLogSignature},
	} {
		r := rs[0]
		r.Leaf = bytes.Clone(r.Leaf)
		tc.change(&r)
		if _, err := c.VerifyReceipt(t.Context(), r, tc.policy); !errors.Is(err, tc.want) {
			t.Errorf("%s changed: VerifyReceipt = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// lossyProxy forwards requests to a ledger; for the first lose appends it
// then drops the ledger's answer and answers 503 instead, as a load
// balancer does when the connection to the ledger breaks after the request
// went through. It records the Authorization headers it saw.
type lossyProxy struct {
	*httptest.Server
	mu    sync.Mutex
	lose  int
	posts int
	auth  []string
}

func newLossyProxy(t *testing.T, target string, lose int) *lossyProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &lossyProxy{lose: lose}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.auth = append(p.auth, r.Header.Get("Authorization"))
		lost := false
		if r.Method == http.MethodPost {
			p.posts++
			lost, p.lose = p.lose > 0, p.lose-1
		}
		p.mu.Unlock()
		if !lost {
			rp.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			t.Errorf("the ledger answered %d behind the proxy: %s", rec.Code, rec.Body)
		}
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(p.Close)
	return p
}

func TestRetriesReuseTheID(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	p := newLossyProxy(t, lg.URL, 2)
	c := newClient(t, audit.Config{URL: p.URL, Token: "s3cret-token"})
	ev := testEvent(1)
	rs, err := c.Append(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	// The first attempt was logged; the retries found it by its ID.
	if rs[0].Index != 0 || !rs[0].Duplicate || p.posts != 3 {
		t.Fatalf("receipt %+v after %d posts", rs[0], p.posts)
	}
	for _, a := range p.auth {
		if a != "Bearer s3cret-token" {
			t.Fatalf("Authorization header %q", a)
		}
	}
	// Appending the same event again logs nothing new either.
	again, err := c.Append(t.Context(), ev)
	if err != nil || again[0].Index != 0 || !again[0].Duplicate {
		t.Fatalf("second Append: %+v, %v", again, err)
	}
	waitLog(t, lg, 1)
}

// waitLog waits until the published log has n events and returns them.
func waitLog(t *testing.T, lg *audittest.Ledger, n int) []*event.Event {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		events, err := audittest.ReadLog(t.Context(), lg.URL, lg.Key)
		if err == nil && len(events) >= n {
			if len(events) != n {
				t.Fatalf("the log has %d events, want %d", len(events), n)
			}
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log did not reach %d events: %d, %v", n, len(events), err)
		}
	}
}

func TestAppendWhileLedgerDown(t *testing.T) {
	addr := audittest.FreeAddr(t)
	url := "http://" + addr + "/"
	quick := newClient(t, audit.Config{URL: url, MaxAttempts: 2})
	if _, err := quick.Append(t.Context(), testEvent(0)); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Append with the ledger down: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	patient := newClient(t, audit.Config{URL: url, MaxAttempts: 1000})
	if _, err := patient.Append(ctx, testEvent(0)); !errors.Is(err, audit.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append until a deadline with the ledger down: %v", err)
	}
	// The ledger comes up while Append retries.
	start := make(chan struct{})
	go func() {
		time.Sleep(200 * time.Millisecond)
		audittest.Start(t, audittest.Config{Addr: addr})
		close(start)
	}()
	rs, err := patient.Append(t.Context(), testEvent(1))
	<-start
	if err != nil || rs[0].Index != 0 {
		t.Fatalf("Append across the ledger's start: %+v, %v", rs, err)
	}
}

func TestAppendRejected(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{Limits: event.Limits{MaxFieldBytes: 100}})
	p := newLossyProxy(t, lg.URL, 0)
	c := newClient(t, audit.Config{URL: p.URL})
	bad := testEvent(2)
	bad.Actor.Type = "robot"
	_, err := c.Append(t.Context(), testEvent(1), bad)
	var e *audit.Error
	if !errors.As(err, &e) || e.Status != 0 || len(e.Details) != 1 || e.Details[0].Index != 1 || e.Details[0].Field != "actor.type" {
		t.Fatalf("an invalid event: %v", err)
	}
	if p.posts != 0 {
		t.Fatalf("an invalid batch was sent")
	}
	// The ledger's limits are tighter than the default ones checked here.
	long := testEvent(3)
	long.Reason = strings.Repeat("because ", 20)
	_, err = c.Append(t.Context(), long)
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || len(e.Details) != 1 || e.Details[0].Field != "reason" || p.posts != 1 {
		t.Fatalf("an event the ledger refuses: %v after %d posts", err, p.posts)
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []audit.Config{
		{},
		{URL: "ftp://example.com"},
		{URL: "http://"},
		{URL: "http://example.com", Wait: "eventually"},
		{URL: "http://example.com", MaxAttempts: -1},
	} {
		if _, err := audit.New(t.Context(), cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := audit.NewClient("https://audit.example.com/prod/", "token"); err != nil {
		t.Errorf("NewClient: %v", err)
	}
}
