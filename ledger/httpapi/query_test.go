package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/index/sqlite"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

// queryNow is the server's clock in the query tests: the default window is
// the 30 days before it.
var queryNow = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// queryServer is a ledger with a SQLite index behind a real HTTP server.
type queryServer struct {
	*testServer
	api      *httpapi.Server
	idx      *sqlite.Index
	follower *index.Follower
}

func newQueryServer(t testing.TB) *queryServer {
	return newQueryServerPublishing(t, 5*time.Millisecond)
}

// newQueryServerPublishing is newQueryServer with a publish interval, and
// changes to the server's configuration.
func newQueryServerPublishing(t testing.TB, every time.Duration, tweaks ...func(*httpapi.Config)) *queryServer {
	dir := t.TempDir()
	store, err := posix.Open(t.Context(), posix.Config{Dir: filepath.Join(dir, "log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	skey, vkey, err := note.GenerateKey(nil, "example.com/query")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(t.Context(), ledger.Config{Storage: store, Keys: storagetest.NewMemoryKeys(), Signer: signer, KeyOf: event.KeyOf, PublishInterval: every})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	idx, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(dir, "index.sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	f, err := index.NewFollower(index.FollowerConfig{Store: idx, Log: index.StorageLog(store),
		Size: func(context.Context) (uint64, error) { return l.Committed().Size, nil }})
	if err != nil {
		t.Fatal(err)
	}
	// The events of these tests are spread over months around queryNow,
	// and the golden ones are after it: the timestamp bounds are wide.
	wide := event.DefaultLimits()
	wide.MaxFutureSkew, wide.MaxAge = 10*365*24*time.Hour, 10*365*24*time.Hour
	cfg := httpapi.Config{Ledger: l, Tiles: store, Index: idx, Now: func() time.Time { return queryNow }, Limits: wide}
	for _, tweak := range tweaks {
		tweak(&cfg)
	}
	api, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &queryServer{testServer: &testServer{Server: srv, l: l, vkey: vkey, store: store}, api: api, idx: idx, follower: f}
}

// appendEvents appends NDJSON events, waits until they are published and
// indexes them.
func (s *queryServer) appendEvents(t *testing.T, lines []string) {
	t.Helper()
	if code, _, b := s.do(t, "POST", "/v1/events?wait=published", "application/x-ndjson", strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	if _, err := s.follower.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// queryEvent is an event at day (days before queryNow) by an actor.
func queryEvent(i int, actor, result string, daysAgo float64) string {
	ts := queryNow.Add(-time.Duration(daysAgo * float64(24*time.Hour))).Format(time.RFC3339Nano)
	return fmt.Sprintf(`{"id":"e%d","timestamp":%q,"action":"read","event_type":"record.read","actor":{"id":%q,"type":"user"},"resource":{"type":"record","id":"r%d"},"result":%q,"tenant_id":"t1"}`,
		i, ts, actor, i%7, result)
}

type queryBody struct {
	Events []struct {
		Index    uint64       `json:"index"`
		LeafHash string       `json:"leaf_hash"`
		Leaf     []byte       `json:"leaf"`
		Event    *event.Event `json:"event"`
		Proof    string       `json:"proof"`
	} `json:"events"`
	NextCursor string `json:"next_cursor"`
	TreeSize   uint64 `json:"tree_size"`
}

func (s *queryServer) query(t *testing.T, q url.Values) queryBody {
	t.Helper()
	code, _, b := s.do(t, "GET", "/v1/events?"+q.Encode(), "", "")
	if code != 200 {
		t.Fatalf("GET /v1/events?%s: %d %s", q.Encode(), code, b)
	}
	var body queryBody
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	return body
}

func TestQueryPagesNewestFirst(t *testing.T) {
	s := newQueryServer(t)
	var lines []string
	var want []string // ids of alice's events in the default window, newest first
	for i := range 260 {
		actor, days := "bob", float64(i%40)
		if i%2 == 0 {
			actor, days = "alice", 45-float64(i)/5 // from 45 to about 0 days ago
		}
		lines = append(lines, queryEvent(i, actor, "success", days))
		if actor == "alice" && days > 0 && days <= 30 { // the window is [now-30d, now)
			want = append(want, fmt.Sprintf("e%d", i))
		}
	}
	slices.Reverse(want)
	s.appendEvents(t, lines)
	var got []string
	q := url.Values{"actor_id": {"alice"}, "limit": {"40"}}
	pages := 0
	for {
		body := s.query(t, q)
		pages++
		for _, e := range body.Events {
			got = append(got, e.Event.ID)
			if e.Proof != "" || tiles.LeafHash(e.Leaf).String() != e.LeafHash {
				t.Fatalf("row %d: proof %q without proof=true, or leaf hash %s does not match its leaf", e.Index, e.Proof, e.LeafHash)
			}
		}
		if body.NextCursor == "" {
			break
		}
		q.Set("cursor", body.NextCursor)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged through %v\nwant %v", got, want)
	}
	if wantPages := (len(want) + 39) / 40; pages != wantPages {
		t.Errorf("%d pages, want %d", pages, wantPages)
	}
}

func TestQueryProofs(t *testing.T) {
	s := newQueryServer(t)
	var lines []string
	for i := range 300 {
		lines = append(lines, queryEvent(i, fmt.Sprintf("u%d", i%3), "success", float64(1+i%20)))
	}
	s.appendEvents(t, lines)
	policy, _ := tiles.NewLogPolicy(s.vkey)
	body := s.query(t, url.Values{"actor_id": {"u1"}, "proof": {"true"}, "limit": {"1000"}})
	if len(body.Events) != 100 || body.TreeSize != 300 {
		t.Fatalf("%d rows in a tree of %d, want 100 in 300", len(body.Events), body.TreeSize)
	}
	for _, e := range body.Events {
		p, err := tiles.ParseProof([]byte(e.Proof))
		if err != nil {
			t.Fatal(err)
		}
		sc, err := p.Verify(policy, tiles.LeafHash(p.Extra))
		if err != nil || sc.Size != 300 || p.Index != e.Index || string(p.Extra) != string(e.Leaf) || e.Event.Actor.ID != "u1" {
			t.Fatalf("row %d: proof %v (size %d, index %d)", e.Index, err, sc.Size, p.Index)
		}
	}

	// A row changed in the index behind its back comes with a proof that
	// fails: the inclusion hashes come from the log.
	forged := strings.Replace(string(body.Events[0].Leaf), `"u1"`, `"mallory"`, 1)
	if _, err := s.idx.DB().ExecContext(t.Context(), `UPDATE index_entries SET leaf = $1, actor_id = 'mallory' WHERE log_index = $2`,
		[]byte(forged), int64(body.Events[0].Index)); err != nil {
		t.Fatal(err)
	}
	forgedBody := s.query(t, url.Values{"actor_id": {"mallory"}, "proof": {"true"}})
	if len(forgedBody.Events) != 1 || forgedBody.Events[0].Event.Actor.ID != "mallory" {
		t.Fatalf("forged row: %+v", forgedBody.Events)
	}
	p, err := tiles.ParseProof([]byte(forgedBody.Events[0].Proof))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(policy, tiles.LeafHash(p.Extra)); err == nil {
		t.Fatal("the proof of a forged row verifies")
	}
}

// TestQueryOnlyPublished checks that rows of committed but unpublished
// entries, which the follower has indexed, are not answered: they could not
// be proven against the published checkpoint.
func TestQueryOnlyPublished(t *testing.T) {
	s := newQueryServerPublishing(t, time.Hour)
	var lines []string
	for i := range 20 {
		lines = append(lines, queryEvent(i, "alice", "failure", 1))
	}
	if code, _, b := s.do(t, "POST", "/v1/events", "application/x-ndjson", strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	if n, err := s.follower.Sync(t.Context()); err != nil || n != 20 {
		t.Fatalf("indexed %d, %v; want 20", n, err)
	}
	if body := s.query(t, url.Values{"actor_id": {"alice"}}); len(body.Events) != 0 || body.TreeSize != 0 {
		t.Fatalf("%d rows in a published tree of %d, want none", len(body.Events), body.TreeSize)
	}
	for _, p := range []string{"/v1/export", "/v1/reports/failed-attempts?threshold=1"} {
		if code, hdr, b := s.do(t, "GET", p, "", ""); code != 200 || strings.Contains(string(b), "alice") {
			t.Fatalf("%s before publishing: %d %v %s", p, code, hdr, b)
		}
	}
}

func TestQueryRejects(t *testing.T) {
	s := newQueryServer(t)
	long := strings.Repeat("x", 4097)
	for _, c := range []struct{ path, field string }{
		{"/v1/events?actorid=a", "actorid"},
		{"/v1/events?actor_type=robot", "actor_type"},
		{"/v1/events?result=ok", "result"},
		{"/v1/events?actor_id=", "actor_id"},
		{"/v1/events?actor_id=a&actor_id=b", "actor_id"},
		{"/v1/events?actor_id=" + long, "actor_id"},
		{"/v1/events?since=yesterday", "since"},
		{"/v1/events?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until"},
		{"/v1/events?since=2024-01-01T00:00:00Z", "since"},
		{"/v1/events?limit=0", "limit"},
		{"/v1/events?limit=1001", "limit"},
		{"/v1/events?limit=ten", "limit"},
		{"/v1/events?cursor=AAAA", "cursor"},
		{"/v1/events?proof=yes", "proof"},
		{"/v1/reports/failed-attempts?threshold=0", "threshold"},
		{"/v1/reports/failed-attempts?result=failure", "result"},
		{"/v1/reports/failed-attempts?cursor=x", "cursor"},
		{"/v1/export?format=xml", "format"},
		{"/v1/export?limit=5", "limit"},
	} {
		code, _, b := s.do(t, "GET", c.path, "", "")
		var body struct {
			Error   string `json:"error"`
			Details []struct {
				Field string `json:"field"`
			} `json:"details"`
		}
		if err := json.Unmarshal(b, &body); err != nil || code != 400 || len(body.Details) == 0 || body.Details[0].Field != c.field ||
			!strings.HasPrefix(body.Error, "invalid query parameters: "+c.field+": ") {
			t.Errorf("%s: %d %s, want 400 naming %s", c.path, code, b, c.field)
		}
	}
	// An export may cover more than a query's 366 days.
	if code, _, b := s.do(t, "GET", "/v1/export?since=2020-01-01T00:00:00Z", "", ""); code != 200 {
		t.Errorf("export of six years: %d %s", code, b)
	}
	// Without an index the query endpoints say so.
	plain := newTestServer(t, event.Limits{}, 0)
	for _, p := range []string{"/v1/events", "/v1/reports/failed-attempts", "/v1/export"} {
		if code, _, b := plain.do(t, "GET", p, "", ""); code != 404 || !strings.Contains(string(b), "no query index") {
			t.Errorf("%s without an index: %d %s", p, code, b)
		}
	}
}

func TestFailedAttemptsReport(t *testing.T) {
	s := newQueryServer(t)
	var lines []string
	for i := range 120 {
		actor, result := fmt.Sprintf("u%d", i%4), "success"
		switch {
		case i%4 == 0 && i%3 != 0: // u0: 20 of its 30 fail or are denied
			result = []string{"failure", "denied"}[i%2]
		case i%4 == 1 && i < 12: // u1: 3 failures
			result = "failure"
		}
		lines = append(lines, queryEvent(i, actor, result, float64(1+i%25)))
	}
	lines = append(lines, queryEvent(500, "u3", "failure", 40)) // outside the window
	s.appendEvents(t, lines)
	code, _, b := s.do(t, "GET", "/v1/reports/failed-attempts?threshold=3", "", "")
	var body struct {
		Actors []struct {
			ActorID string `json:"actor_id"`
			Count   int    `json:"count"`
		} `json:"actors"`
		Threshold int `json:"threshold"`
	}
	if err := json.Unmarshal(b, &body); err != nil || code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	got := fmt.Sprint(body.Actors)
	if want := "[{u0 20} {u1 3}]"; got != want || body.Threshold != 3 {
		t.Fatalf("report %s (threshold %d), want %s", got, body.Threshold, want)
	}
	code, _, b = s.do(t, "GET", "/v1/reports/failed-attempts?threshold=4", "", "")
	if code != 200 || strings.Contains(string(b), `"u1"`) || !strings.Contains(string(b), `"u0"`) {
		t.Fatalf("threshold 4: %d %s", code, b)
	}
}

func TestExport(t *testing.T) {
	s := newQueryServer(t)
	var lines []string
	for i := range 2500 {
		lines = append(lines, queryEvent(i, fmt.Sprintf("u%d", i%2), "success", 29-float64(i)/100))
	}
	lines = append(lines, strings.Replace(queryEvent(9999, "=HYPERLINK(1)", "denied", 1), `"action":"read"`, `"action":"login"`, 1))
	s.appendEvents(t, lines)

	code, hdr, b := s.do(t, "GET", "/v1/export?actor_id=u1", "", "")
	if code != 200 || hdr.Get("Content-Type") != "application/x-ndjson" || hdr.Get(httpapi.TreeSizeHeader) != "2501" {
		t.Fatalf("ndjson export: %d %v", code, hdr)
	}
	rows := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(rows) != 1250 {
		t.Fatalf("%d rows, want 1250", len(rows))
	}
	var prev uint64
	for i, line := range rows {
		var r struct {
			Index uint64       `json:"index"`
			Leaf  []byte       `json:"leaf"`
			Event *event.Event `json:"event"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		leaf, _ := r.Event.Leaf()
		if r.Event.Actor.ID != "u1" || string(leaf) != string(r.Leaf) || (i > 0 && r.Index <= prev) {
			t.Fatalf("row %d: %s", i, line)
		}
		prev = r.Index
	}

	code, hdr, b = s.do(t, "GET", "/v1/export?format=csv&result=denied", "", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv export: %d %v", code, hdr)
	}
	want := "index,leaf_hash,id,timestamp,tenant_id,event_type,action,actor_id,actor_type,resource_type,resource_id,result,failure_reason,source,ip_address," +
		"received_at,submitter_type,submitter_token_id,submitter_role,event\n2500,"
	if !strings.HasPrefix(string(b), want) || !strings.Contains(string(b), ",'=HYPERLINK(1),user,") || strings.Count(string(b), "\n") != 2 {
		t.Fatalf("csv export:\n%s", b)
	}
	if code, _, b := s.do(t, "GET", "/v1/export?format=csv&actor_id=nobody", "", ""); code != 200 || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("empty csv export: %d %q", code, b)
	}
}
