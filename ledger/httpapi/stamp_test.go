package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

// entryEvent reads entry index as the auditor and returns its event.
func (s *accessServer) entryEvent(t *testing.T, index uint64) *event.Event {
	t.Helper()
	code, _, b := s.call(t, auditor, "GET", "/v1/events/"+strconv.FormatUint(index, 10), "")
	var got struct {
		Event *event.Event `json:"event"`
		Leaf  []byte       `json:"leaf"`
	}
	if code != 200 || json.Unmarshal(b, &got) != nil {
		t.Fatalf("GET /v1/events/%d: %d %s", index, code, b)
	}
	if ev, err := event.ParseLeaf(got.Leaf); err != nil || ev.Version() != 2 {
		t.Fatalf("entry %d: leaf %s is not of version 2 (%v)", index, got.Leaf, err)
	}
	return got.Event
}

// TestSubmitterStamped: the leaf of an appended event says when the ledger
// received it and which token sent it (its id, role and tenant, not its
// secret); the ledger's own events say the ledger wrote them. The receipt
// (wait=published) carries the leaf.
func TestSubmitterStamped(t *testing.T) {
	s := newAccessServer(t)
	code, _, b := s.call(t, writerA, "POST", "/v1/events?wait=published", tenantEvent("", "m"))
	var res struct {
		Index uint64 `json:"index"`
		Leaf  []byte `json:"leaf"`
	}
	if code != 200 || json.Unmarshal(b, &res) != nil || res.Leaf == nil {
		t.Fatalf("append: %d %s", code, b)
	}
	if strings.Contains(string(res.Leaf), s.tokens[writerA]) {
		t.Fatal("the leaf holds the token's secret")
	}
	tok, err := s.keyring.Authenticate(s.tokens[writerA])
	if err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	ev := s.entryEvent(t, res.Index)
	if !ev.ReceivedAt.Equal(queryNow) || ev.Submitter != event.TokenSubmitter(tok.ID, "writer", "a") {
		t.Fatalf("received_at %v, submitter %+v; want %v and writer-a's token %s", ev.ReceivedAt, ev.Submitter, queryNow, tok.ID)
	}
	// The read just made was audited by the ledger itself.
	if own := s.entryEvent(t, res.Index+1); own.EventType != "audit.accessed" || own.Submitter != (event.Submitter{Type: event.SubmitterLedger}) {
		t.Fatalf("entry %d: %s by %+v, want audit.accessed by the ledger", res.Index+1, own.EventType, own.Submitter)
	}
}

// TestReservedTypesRefused: a writer's event of a type in the ledger's own
// namespaces is a 403 naming the rule, single, array or NDJSON, with or
// without a tenant, access control on or off; nothing of the batch is
// appended.
func TestReservedTypesRefused(t *testing.T) {
	forged := func(typ string) string {
		return strings.Replace(tenantEvent("", "m"), `"action"`, `"event_type":"`+typ+`","action"`, 1)
	}
	ok := forged("user.login")
	open := newQueryServer(t)
	auth := newAccessServer(t)
	for _, ns := range event.ReservedNamespaces {
		bad := forged(ns + "forged")
		for _, tt := range []struct {
			name, caller, ctype, body string
		}{
			{"single, open", "", "application/json", bad},
			{"array, writer of a tenant", writerA, "application/json", "[" + ok + "," + bad + "]"},
			{"ndjson, writer of any tenant", writerAny, "application/x-ndjson", ok + "\n" + bad},
		} {
			t.Run(ns+tt.name, func(t *testing.T) {
				srv := auth.queryServer
				do := func() (int, []byte) {
					code, _, b := auth.call(t, tt.caller, "POST", "/v1/events", tt.body)
					return code, b
				}
				if tt.caller == "" {
					srv = open
					do = func() (int, []byte) {
						code, _, b := open.do(t, "POST", "/v1/events", tt.ctype, tt.body)
						return code, b
					}
				}
				size := srv.l.Committed().Size
				code, b := do()
				if code != 403 || !strings.Contains(string(b), "is in the namespace "+ns+", which only the ledger writes") {
					t.Fatalf("status %d %s, want 403 naming the namespace %s", code, b, ns)
				}
				time.Sleep(10 * time.Millisecond) // anything appended would be committed by now
				if got := srv.l.Committed().Size; got != size {
					t.Fatalf("the log grew from %d to %d", size, got)
				}
			})
		}
	}
}

// TestQueryByReceived: time=received puts since, until and the order on the
// receive time (the test server's clock stamps queryNow on every event,
// whatever its own timestamp), and submitter_token_id selects one token's
// events.
func TestQueryByReceived(t *testing.T) {
	s := newAccessServer(t)
	old := strings.Replace(tenantEvent("a", "old"), queryNow.Add(-24*time.Hour).Format(time.RFC3339), queryNow.Add(-40*24*time.Hour).Format(time.RFC3339), 1)
	if code, _, b := s.call(t, writerA, "POST", "/v1/events?wait=published", old); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	s.sync(t)
	window := "&since=" + queryNow.Add(-time.Second).Format(time.RFC3339) + "&until=" + queryNow.Add(time.Second).Format(time.RFC3339)
	indexes := func(query string) []uint64 {
		t.Helper()
		code, _, b := s.call(t, auditor, "GET", "/v1/events?"+query, "")
		var body queryBody
		if code != 200 || json.Unmarshal(b, &body) != nil {
			t.Fatalf("GET /v1/events?%s: %d %s", query, code, b)
		}
		var out []uint64
		for _, e := range body.Events {
			out = append(out, e.Index)
		}
		return out
	}
	// Entries 0 and 1 (newAccessServer's) and 2 (the 40-day-old event) were
	// all received at queryNow: newest first is by index then.
	if got := indexes("actor_id=alice&time=received" + window); fmt.Sprint(got) != "[2 1 0]" {
		t.Errorf("by receive time: %v, want [2 1 0]", got)
	}
	if got := indexes("actor_id=alice" + window); len(got) != 0 {
		t.Errorf("by timestamp in a window around queryNow: %v, want none", got)
	}
	tok, err := s.keyring.Authenticate(s.tokens[writerA])
	if err != nil {
		t.Fatal(err)
	}
	if got := indexes("time=received&submitter_token_id=" + tok.ID + window); fmt.Sprint(got) != "[2]" {
		t.Errorf("writer a's events: %v, want [2]", got)
	}
	if code, _, b := s.call(t, auditor, "GET", "/v1/events?time=arrival", ""); code != 400 || !strings.Contains(string(b), "must be one of [received timestamp]") {
		t.Errorf("time=arrival: %d %s", code, b)
	}
}

// TestCosignedTimeout: with the only witness down, wait=cosigned answers
// within WaitTimeout with a 503 whose body says the events are durable but
// not yet cosigned and carries their receipts; sending them again with the
// same ids answers duplicates at the same indexes and appends nothing.
func TestCosignedTimeout(t *testing.T) {
	store, err := posix.Open(t.Context(), posix.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, vkey := storagetest.NewSigner(t, "example.com/cosigned")
	_, wkey, err := tiles.GenerateCosignatureKey(rand.Reader, "w.example.com")
	if err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // its address refuses connections: the witness is down
	policy, err := tiles.ParsePolicy([]byte("log " + vkey + "\nwitness w " + wkey + " " + down.URL + "\nquorum w\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(t.Context(), ledger.Config{Storage: store, Keys: storagetest.NewMemoryKeys(), Signer: signer, KeyOf: event.KeyOf,
		PublishInterval: 5 * time.Millisecond, Witnesses: policy, WitnessTimeout: 100 * time.Millisecond, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	api, err := httpapi.New(httpapi.Config{Ledger: l, Tiles: store, WaitTimeout: 300 * time.Millisecond, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	s := &testServer{Server: srv, l: l, vkey: vkey, store: store}

	body := evJSON("c-1", 1) + "\n" + evJSON("c-2", 2)
	start := time.Now()
	code, hdr, b := s.do(t, "POST", "/v1/events?wait=cosigned", "application/x-ndjson", body)
	var got struct {
		Error   string   `json:"error"`
		Status  string   `json:"status"`
		Results []result `json:"results"`
	}
	if code != 503 || hdr.Get("Retry-After") == "" || json.Unmarshal(b, &got) != nil || got.Status != "durable, not yet cosigned" ||
		len(got.Results) != 2 || got.Results[0].ID != "c-1" || got.Results[1].Index != 1 || got.Results[1].LeafHash == "" {
		t.Fatalf("wait=cosigned with the witness down: %d %s", code, b)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("answered after %v, want about the 300 ms wait timeout", d)
	}
	size := l.Committed().Size
	code, _, b = s.do(t, "POST", "/v1/events", "application/x-ndjson", body)
	var again []result
	if code != 200 || json.Unmarshal(b, &again) != nil || len(again) != 2 || !again[0].Duplicate || !again[1].Duplicate ||
		again[0].Index != 0 || again[1].Index != 1 || l.Committed().Size != size {
		t.Fatalf("the same events again: %d %s (log size %d, was %d)", code, b, l.Committed().Size, size)
	}
}

// TestProofAtFirst: the receipts of wait=published carry a proof against
// the first checkpoint that covered their events, and GET
// /v1/proof/{index}?at=first gives the same one after the log has grown,
// while the plain proof is against the latest.
func TestProofAtFirst(t *testing.T) {
	s := newTestServer(t, event.Limits{}, 0)
	policy, err := tiles.NewLogPolicy(s.vkey)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(raw string, index, size uint64) *tiles.Proof {
		t.Helper()
		p, err := tiles.ParseProof([]byte(raw))
		if err != nil {
			t.Fatalf("%v:\n%s", err, raw)
		}
		sc, err := p.Verify(policy, tiles.LeafHash(p.Extra))
		if err != nil || p.Index != index || sc.Size != size {
			t.Fatalf("proof of %d: size %d, %v; want size %d", index, sc.Size, err, size)
		}
		return p
	}
	code, _, b := s.do(t, "POST", "/v1/events?wait=published", "application/x-ndjson", evJSON("a", 1)+"\n"+evJSON("b", 2))
	var first []struct {
		result
		Proof string `json:"proof"`
	}
	if code != 200 || json.Unmarshal(b, &first) != nil || len(first) != 2 {
		t.Fatalf("append: %d %s", code, b)
	}
	receipt := verify(first[1].Proof, 1, 2)
	verify(first[0].Proof, 0, 2)
	for i := range 3 {
		if code, _, b := s.do(t, "POST", "/v1/events?wait=published", "application/json", evJSON(fmt.Sprint("c", i), 3+i)); code != 200 {
			t.Fatalf("append: %d %s", code, b)
		}
	}
	code, _, b = s.do(t, "GET", "/v1/proof/1?at=first", "", "")
	if code != 200 {
		t.Fatalf("GET /v1/proof/1?at=first: %d %s", code, b)
	}
	if p := verify(string(b), 1, 2); string(p.Checkpoint) != string(receipt.Checkpoint) {
		t.Errorf("at=first gave checkpoint\n%s\nthe receipt had\n%s", p.Checkpoint, receipt.Checkpoint)
	}
	if code, _, b = s.do(t, "GET", "/v1/proof/1", "", ""); code != 200 {
		t.Fatalf("GET /v1/proof/1: %d %s", code, b)
	}
	verify(string(b), 1, 5)
	if code, _, b = s.do(t, "GET", "/v1/proof/9?at=first", "", ""); code != 404 || !strings.Contains(string(b), "no published checkpoint covers entry 9") {
		t.Errorf("GET /v1/proof/9?at=first: %d %s, want 404", code, b)
	}
	if code, _, b = s.do(t, "GET", "/v1/proof/1?at=last", "", ""); code != 400 {
		t.Errorf("at=last: %d %s, want 400", code, b)
	}
}

// TestQueryProofFirst: proof=first proves every row of a query answer
// against the first checkpoint that covered it, not the latest.
func TestQueryProofFirst(t *testing.T) {
	s := newQueryServer(t)
	policy, err := tiles.NewLogPolicy(s.vkey)
	if err != nil {
		t.Fatal(err)
	}
	s.appendEvents(t, []string{queryEvent(0, "alice", "success", 1), queryEvent(1, "alice", "success", 1)})
	s.appendEvents(t, []string{queryEvent(2, "alice", "success", 1)})
	body := s.query(t, url.Values{"actor_id": {"alice"}, "proof": {"first"}})
	want := map[uint64]uint64{0: 2, 1: 2, 2: 3} // index: size of its first checkpoint
	if len(body.Events) != 3 {
		t.Fatalf("%d rows, want 3", len(body.Events))
	}
	for _, e := range body.Events {
		p, err := tiles.ParseProof([]byte(e.Proof))
		if err != nil {
			t.Fatal(err)
		}
		sc, err := p.Verify(policy, tiles.LeafHash(e.Leaf))
		if err != nil || sc.Size != want[e.Index] {
			t.Errorf("row %d: proof against size %d (%v), want %d", e.Index, sc.Size, err, want[e.Index])
		}
	}
}
