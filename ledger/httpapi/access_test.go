package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger/access"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/retention"
	"github.com/ledger-dev/ledger/tiles"
)

// accessServer is a query server with access control on, and a token of
// every kind the matrix uses.
type accessServer struct {
	*queryServer
	keyring *access.Keyring
	tokens  map[string]string // caller name → bearer secret ("" for none)
	victim  string            // ID of a token the admin cells revoke
	// victimHold is the ID of a legal hold the admin cells release.
	victimHold string
}

// The callers of the authorization matrix.
const (
	none, bad, expired, revoked                        = "none", "bad", "expired", "revoked"
	writerA, writerAny, readerA, readerB, auditor, adm = "writer-a", "writer-any", "reader-a", "reader-b", "auditor", "admin"
	dpo                                                = "privacy"
)

var callers = []string{none, bad, expired, revoked, writerA, writerAny, readerA, readerB, auditor, adm, dpo}

// Secret markers: each tenant's events carry one, and no response may show
// one to a caller that may not read that tenant.
const markerA, markerB = "marker-tenant-a-7f3e", "marker-tenant-b-91c2"

func newAccessServer(t *testing.T, tweaks ...func(*httpapi.Config)) *accessServer {
	file := filepath.Join(t.TempDir(), access.FileName)
	now := queryNow
	tokens := map[string]string{none: "", bad: access.Prefix + "AAAAnot-a-real-token-AAAAAAAAAAAAAAAAAAAAAAAA"}
	var stored []access.Token
	add := func(name string, role access.Role, tenant string, ttl time.Duration) access.Token {
		secret, tok, err := access.Generate(role, tenant, name, ttl, now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = secret
		stored = append(stored, tok)
		return tok
	}
	add(expired, access.Reader, "a", time.Minute)
	rv := add(revoked, access.Auditor, "", 0)
	add(writerA, access.Writer, "a", 0)
	add(writerAny, access.Writer, "", 0)
	add(readerA, access.Reader, "a", 0)
	add(readerB, access.Reader, "b", 0)
	add(auditor, access.Auditor, "", 0)
	add(adm, access.Admin, "", 0)
	add(dpo, access.Privacy, "", 0)
	victim := add("victim", access.Writer, "", 0)
	if err := access.UpdateFile(file, func([]access.Token) ([]access.Token, error) { return stored, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := access.RevokeInFile(file, rv.ID, now); err != nil {
		t.Fatal(err)
	}
	k, err := access.NewKeyring(access.KeyringConfig{File: file, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	holds := hold.Open(filepath.Join(t.TempDir(), hold.FileName))
	victimHold, err := holds.Place(hold.Hold{Scope: hold.Scope{TenantID: "a"}, Reason: "case 1", PlacedBy: "test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	year, _ := retention.ParsePeriod("1y")
	policy, err := retention.New([]retention.Rule{{Tenant: "a", Preset: "hipaa"}, {Tenant: "b", EventType: "marketing.*", Preset: "gdpr", Max: year}})
	if err != nil {
		t.Fatal(err)
	}
	base := func(c *httpapi.Config) {
		c.Access, c.Holds, c.Retention, c.Logger = k, holds, policy, testlog.New(t)
		c.Metrics = promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{})
	}
	tweaks = append([]func(*httpapi.Config){base}, tweaks...)
	qs := newQueryServerPublishing(t, 5*time.Millisecond, tweaks...)
	s := &accessServer{queryServer: qs, keyring: k, tokens: tokens, victim: victim.ID, victimHold: victimHold.ID}
	// Entry 0 is tenant a's, entry 1 tenant b's; both within the default
	// query window.
	for _, line := range []string{tenantEvent("a", markerA), tenantEvent("b", markerB)} {
		if code, _, b := s.call(t, writerAny, "POST", "/v1/events?wait=published", line); code != 200 {
			t.Fatalf("append: %d %s", code, b)
		}
	}
	s.sync(t)
	return s
}

func tenantEvent(tenant, marker string) string {
	ts := queryNow.Add(-24 * time.Hour).Format(time.RFC3339)
	tenantPart := ""
	if tenant != "" {
		tenantPart = fmt.Sprintf(`"tenant_id":%q,`, tenant)
	}
	return fmt.Sprintf(`{%s"timestamp":%q,"action":"login","actor":{"id":"alice","type":"user"},"resource":{"type":"session","id":%q},"result":"failure"}`,
		tenantPart, ts, marker)
}

// sync waits until everything committed, access events included, is
// published and indexed.
func (s *accessServer) sync(t *testing.T) {
	t.Helper()
	if err := s.l.WaitPublished(t.Context(), s.l.Committed().Size); err != nil {
		t.Fatal(err)
	}
	if _, err := s.follower.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// call sends a request as caller.
func (s *accessServer) call(t *testing.T, caller, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	resp, b := s.do(t, caller, method, path, "", body)
	return resp.StatusCode, resp.Header, b
}

// TestAuthorizationMatrix sends every endpoint a request as every kind of
// caller and checks the status of each cell, and that no cell shows a
// tenant's events to a caller that may not read them.
func TestAuthorizationMatrix(t *testing.T) {
	s := newAccessServer(t)
	const u401 = 401
	// Statuses by caller, in the order of callers: none, bad, expired,
	// revoked, writer-a, writer-any, reader-a, reader-b, auditor, admin,
	// privacy.
	public := []int{200, u401, u401, u401, 200, 200, 200, 200, 200, 200, 200}
	auditorOnly := []int{u401, u401, u401, u401, 403, 403, 403, 403, 200, 403, 403}
	adminOnly := []int{u401, u401, u401, u401, 403, 403, 403, 403, 403, 200, 403}
	// The privacy role erases, and reads the holds that may refuse it.
	erasers := []int{u401, u401, u401, u401, 403, 403, 403, 403, 403, 200, 200}
	readers := []int{u401, u401, u401, u401, 403, 403, 200, 200, 200, 403, 403}
	cells := []struct {
		method, path, body string
		want               []int
		// mayShow lists the callers allowed to see each marker.
		mayShowA, mayShowB []string
	}{
		{"GET", "/checkpoint", "", public, nil, nil},
		{"GET", "/healthz", "", public, nil, nil},
		{"GET", "/tile/0/000.p/1", "", public, nil, nil},
		{"GET", "/tile/entries/000.p/1", "", auditorOnly, []string{auditor}, nil},
		{"GET", "/tile/entries/000.p/2", "", auditorOnly, []string{auditor}, []string{auditor}},
		{"POST", "/v1/events", tenantEvent("", "new"), []int{u401, u401, u401, u401, 200, 200, 403, 403, 403, 403, 403}, nil, nil},
		{"POST", "/v1/events", tenantEvent("b", "new-b"), []int{u401, u401, u401, u401, 403, 200, 403, 403, 403, 403, 403}, nil, nil},
		{"GET", "/v1/events/0", "", []int{u401, u401, u401, u401, 403, 403, 200, 403, 200, 403, 403}, []string{readerA, auditor}, nil},
		{"GET", "/v1/events/1", "", []int{u401, u401, u401, u401, 403, 403, 403, 200, 200, 403, 403}, nil, []string{readerB, auditor}},
		{"GET", "/v1/proof/0", "", []int{u401, u401, u401, u401, 403, 403, 200, 403, 200, 403, 403}, []string{readerA, auditor}, nil},
		{"GET", "/v1/events?actor_id=alice", "", readers, []string{readerA, auditor}, []string{readerB, auditor}},
		{"GET", "/v1/events?actor_id=alice&tenant_id=b", "", []int{u401, u401, u401, u401, 403, 403, 403, 200, 200, 403, 403}, nil, []string{readerB, auditor}},
		{"GET", "/v1/reports/failed-attempts?threshold=1", "", readers, nil, nil},
		{"GET", "/v1/export?actor_id=alice", "", auditorOnly, []string{auditor}, []string{auditor}},
		{"GET", "/v1/admin/tokens", "", adminOnly, nil, nil},
		{"POST", "/v1/admin/tokens", `{"role":"reader","tenant":"a"}`, []int{u401, u401, u401, u401, 403, 403, 403, 403, 403, 201, 403}, nil, nil},
		{"DELETE", "/v1/admin/tokens/" + s.victim, "", adminOnly, nil, nil},
		{"GET", "/v1/admin/holds", "", erasers, nil, nil},
		{"GET", "/v1/admin/holds/" + s.victimHold + "/blocking", "", erasers, nil, nil},
		{"GET", "/v1/admin/retention", "", adminOnly, nil, nil},
		{"POST", "/v1/admin/holds", `{"tenant_id":"b","reason":"case 2"}`, []int{u401, u401, u401, u401, 403, 403, 403, 403, 403, 201, 403}, nil, nil},
		{"DELETE", "/v1/admin/holds/" + s.victimHold, "", adminOnly, nil, nil},
		// No sealing here: both roles that may erase get 404, not 403.
		{"POST", "/v1/admin/erasures", `{"subject":"alice"}`, []int{u401, u401, u401, u401, 403, 403, 403, 403, 403, 404, 404}, nil, nil},
		{"GET", "/metrics", "", []int{u401, u401, u401, u401, 403, 403, 403, 403, 200, 200, 403}, nil, nil},
	}
	for _, c := range cells {
		for i, caller := range callers {
			code, _, body := s.call(t, caller, c.method, c.path, c.body)
			if code != c.want[i] {
				t.Errorf("%s %s as %s: %d, want %d: %.200s", c.method, c.path, caller, code, c.want[i], body)
			}
			for _, m := range []struct {
				marker string
				may    []string
			}{{markerA, c.mayShowA}, {markerB, c.mayShowB}} {
				if strings.Contains(string(body), m.marker) && !contains(m.may, caller) {
					t.Errorf("%s %s as %s: the answer shows %s: %.300s", c.method, c.path, caller, m.marker, body)
				}
			}
			if code >= 400 && !json.Valid(body) {
				t.Errorf("%s %s as %s: %d with a body that is not JSON: %q", c.method, c.path, caller, code, body)
			}
		}
	}
	// Entry bundles hold the events, and gzip would hide a marker from
	// the check above: the auditor's bundle must really hold both.
	if code, _, b := s.call(t, auditor, "GET", "/tile/entries/000.p/2", ""); code != 200 || !strings.Contains(string(b), markerA) || !strings.Contains(string(b), markerB) {
		t.Fatalf("auditor's bundle: %d %q", code, b)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestReaderQueryIsAudited: a reader's query appends an audit.accessed
// event naming its token, filters and count, which an auditor finds and
// verifies with its proof.
func TestReaderQueryIsAudited(t *testing.T) {
	s := newAccessServer(t)
	code, hdr, b := s.call(t, readerA, "GET", "/v1/events?actor_id=alice", "")
	if code != 200 {
		t.Fatalf("reader query: %d %s", code, b)
	}
	var answer queryBody
	if err := json.Unmarshal(b, &answer); err != nil || len(answer.Events) != 1 || answer.Events[0].Event.TenantID != "a" {
		t.Fatalf("reader query answered %s (%v), want tenant a's one event", b, err)
	}
	reqID := hdr.Get(httpapi.RequestIDHeader)
	s.sync(t)

	readerTok, err := s.keyring.Authenticate(s.tokens[readerA])
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"event_type": {httpapi.AccessedEventType}, "actor_id": {"token:" + readerTok.ID}, "proof": {"true"},
		"until": {queryNow.Add(time.Second).Format(time.RFC3339)}}
	code, _, b = s.call(t, auditor, "GET", "/v1/events?"+q.Encode(), "")
	if code != 200 {
		t.Fatalf("auditor query: %d %s", code, b)
	}
	var found queryBody
	if err := json.Unmarshal(b, &found); err != nil || len(found.Events) != 1 {
		t.Fatalf("auditor found %s (%v), want the reader's one access", b, err)
	}
	row := found.Events[0]
	ev := row.Event
	if ev.Actor.Role != "reader" || ev.TenantID != "a" || ev.Action != "read" || ev.Result != "success" ||
		ev.Tags["count"] != "1" || ev.Tags["query"] != "actor_id=alice" || ev.Tags["endpoint"] != "GET /v1/events" || ev.RequestID != reqID {
		t.Fatalf("access event %+v does not describe the reader's query (request id %s)", ev, reqID)
	}
	p, err := tiles.ParseProof([]byte(row.Proof))
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := tiles.NewLogPolicy(s.vkey)
	if _, err := p.Verify(policy, tiles.LeafHash(row.Leaf)); err != nil || p.Index != row.Index {
		t.Fatalf("the access event's proof: %v", err)
	}
}

// TestDeniedAccessIsAudited: a valid token refused an endpoint leaves an
// audit.accessed event with result denied.
func TestDeniedAccessIsAudited(t *testing.T) {
	s := newAccessServer(t)
	if code, _, _ := s.call(t, readerA, "GET", "/v1/events/1", ""); code != 403 {
		t.Fatalf("reader a reading tenant b's entry: %d, want 403", code)
	}
	s.sync(t)
	q := url.Values{"event_type": {httpapi.AccessedEventType}, "result": {"denied"}, "until": {queryNow.Add(time.Second).Format(time.RFC3339)}}
	code, _, b := s.call(t, auditor, "GET", "/v1/events?"+q.Encode(), "")
	var found queryBody
	if code != 200 || json.Unmarshal(b, &found) != nil || len(found.Events) != 1 {
		t.Fatalf("denied accesses: %d %s", code, b)
	}
	if ev := found.Events[0].Event; ev.Actor.Role != "reader" || !strings.Contains(ev.FailureReason, `tenant "a"`) {
		t.Fatalf("denied access event %+v", ev)
	}
}

func TestRateLimit(t *testing.T) {
	s := newAccessServer(t, func(c *httpapi.Config) { c.RateLimit = access.RateLimit{PerSecond: 0.01, Burst: 3} })
	// newAccessServer's two appends took two of writer-any's three.
	if code, _, b := s.call(t, writerAny, "GET", "/checkpoint", ""); code != 200 {
		t.Fatalf("third request: %d %s", code, b)
	}
	code, hdr, b := s.call(t, writerAny, "GET", "/checkpoint", "")
	if code != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(string(b), "rate limit") {
		t.Fatalf("fourth request: %d Retry-After %q %s, want 429 with Retry-After", code, hdr.Get("Retry-After"), b)
	}
	// Buckets are per token: another token is not limited by it.
	if code, _, b := s.call(t, auditor, "GET", "/checkpoint", ""); code != 200 {
		t.Fatalf("another token: %d %s", code, b)
	}
}

func TestRequestID(t *testing.T) {
	s := newAccessServer(t)
	req, _ := http.NewRequest("GET", s.URL+"/v1/export", nil)
	req.Header.Set(httpapi.RequestIDHeader, "req-abc.123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		RequestID string `json:"request_id"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 401 || resp.Header.Get(httpapi.RequestIDHeader) != "req-abc.123" || body.RequestID != "req-abc.123" {
		t.Fatalf("%d, header %q, body id %q: want the client's request id echoed", resp.StatusCode, resp.Header.Get(httpapi.RequestIDHeader), body.RequestID)
	}
	// An unusable id is replaced by one of the server's.
	_, hdr, _ := s.call(t, none, "GET", "/checkpoint", "")
	if id := hdr.Get(httpapi.RequestIDHeader); len(id) != 36 {
		t.Fatalf("server-made request id %q, want a UUID", id)
	}
}

// TestAdminTokens: a token made through the admin API works at once,
// stops working when revoked, and both actions are in the log.
func TestAdminTokens(t *testing.T) {
	s := newAccessServer(t)
	code, _, b := s.call(t, adm, "POST", "/v1/admin/tokens", `{"role":"auditor","name":"ext-audit","expires_in":"24h"}`)
	var made struct {
		ID, Token string
		Expires   time.Time
	}
	if code != 201 || json.Unmarshal(b, &made) != nil || !strings.HasPrefix(made.Token, access.Prefix) || !made.Expires.Equal(queryNow.Add(24*time.Hour)) {
		t.Fatalf("create: %d %s", code, b)
	}
	s.tokens["new"] = made.Token
	if code, _, b := s.call(t, "new", "GET", "/v1/export", ""); code != 200 {
		t.Fatalf("new auditor token: %d %s", code, b)
	}
	if code, _, b := s.call(t, adm, "DELETE", "/v1/admin/tokens/"+made.ID, ""); code != 200 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if code, _, _ := s.call(t, "new", "GET", "/v1/export", ""); code != 401 {
		t.Fatalf("revoked token: %d, want 401", code)
	}
	for _, c := range []struct{ body, want string }{
		{`{"role":"root"}`, "unknown role"},
		{`{"role":"reader"}`, "needs a tenant"},
		{`{"role":"auditor","expires_in":"soon"}`, "expires_in"},
		{`{"role":"writer","colour":"red"}`, "colour"},
	} {
		if code, _, b := s.call(t, adm, "POST", "/v1/admin/tokens", c.body); code != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("create %s: %d %s, want 400 naming %q", c.body, code, b, c.want)
		}
	}
	if code, _, _ := s.call(t, adm, "DELETE", "/v1/admin/tokens/0123456789abcdef", ""); code != 404 {
		t.Errorf("revoking an unknown token: %d, want 404", code)
	}
	s.sync(t)
	q := url.Values{"event_type": {httpapi.TokenCreatedEventType}, "until": {queryNow.Add(time.Second).Format(time.RFC3339)}}
	code, _, b = s.call(t, auditor, "GET", "/v1/events?"+q.Encode(), "")
	var found queryBody
	if code != 200 || json.Unmarshal(b, &found) != nil || len(found.Events) != 1 || found.Events[0].Event.Resource.ID != made.ID {
		t.Fatalf("token creations in the log: %d %s", code, b)
	}
	if strings.Contains(string(b), made.Token) {
		t.Fatal("the log holds the token's secret")
	}
}

// TestLegalHolds: an admin places, lists and releases holds; each change is
// in the log with the hold's scope and reason, and bad requests are named.
func TestLegalHolds(t *testing.T) {
	s := newAccessServer(t)
	code, _, b := s.call(t, adm, "POST", "/v1/admin/holds", `{"tenant_id":"a","resource_type":"chart","resource_id":"c-9","reason":"litigation 2026-17"}`)
	var placed hold.Hold
	if code != 201 || json.Unmarshal(b, &placed) != nil || len(placed.ID) != 16 || !placed.Active() || !strings.HasPrefix(placed.PlacedBy, "token:") {
		t.Fatalf("place: %d %s", code, b)
	}
	code, _, b = s.call(t, adm, "GET", "/v1/admin/holds", "")
	var list struct{ Holds []hold.Hold }
	if code != 200 || json.Unmarshal(b, &list) != nil || len(list.Holds) != 2 {
		t.Fatalf("list: %d %s, want the setup's hold and this one", code, b)
	}
	code, _, b = s.call(t, adm, "DELETE", "/v1/admin/holds/"+placed.ID, "")
	var released hold.Hold
	if code != 200 || json.Unmarshal(b, &released) != nil || released.Active() {
		t.Fatalf("release: %d %s", code, b)
	}
	for _, c := range []struct{ body, want string }{
		{`{"reason":"x"}`, "at least one"},
		{`{"tenant_id":"a"}`, "reason"},
		{`{"tenant_id":"a","reason":"x","until":"never"}`, "until"},
	} {
		if code, _, b := s.call(t, adm, "POST", "/v1/admin/holds", c.body); code != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("place %s: %d %s, want 400 naming %q", c.body, code, b, c.want)
		}
	}
	if code, _, _ := s.call(t, adm, "DELETE", "/v1/admin/holds/0123456789abcdef", ""); code != 404 {
		t.Errorf("releasing an unknown hold: %d, want 404", code)
	}
	s.sync(t)
	for _, c := range []struct{ eventType, action string }{{httpapi.HoldPlacedEventType, "create"}, {httpapi.HoldReleasedEventType, "delete"}} {
		q := url.Values{"event_type": {c.eventType}, "until": {queryNow.Add(time.Second).Format(time.RFC3339)}}
		code, _, b := s.call(t, auditor, "GET", "/v1/events?"+q.Encode(), "")
		var found queryBody
		if code != 200 || json.Unmarshal(b, &found) != nil || len(found.Events) != 1 {
			t.Fatalf("%s events: %d %s", c.eventType, code, b)
		}
		ev := found.Events[0].Event
		if ev.Action != c.action || ev.Resource.ID != placed.ID || ev.Tags["reason"] != "litigation 2026-17" ||
			ev.Tags["scope_resource_id"] != "c-9" || ev.Actor.Role != "admin" {
			t.Fatalf("%s event %+v", c.eventType, ev)
		}
	}
}

// TestRetentionPolicy: an admin reads the effective policy, with presets
// applied and its digest; other roles are refused; the read is audited.
func TestRetentionPolicy(t *testing.T) {
	s := newAccessServer(t)
	code, _, b := s.call(t, adm, "GET", "/v1/admin/retention", "")
	var got struct {
		Digest  string
		Rules   []map[string]string
		Presets []retention.Preset
	}
	if code != 200 || json.Unmarshal(b, &got) != nil || len(got.Digest) != 64 || len(got.Rules) != 2 || len(got.Presets) != len(retention.Presets) {
		t.Fatalf("GET /v1/admin/retention: %d %s", code, b)
	}
	if r := got.Rules[0]; r["tenant"] != "a" || r["event_type"] != "*" || r["min"] != "6y" || r["preset"] != "hipaa" {
		t.Errorf("rule 1 as applied: %v", r)
	}
	if r := got.Rules[1]; r["max"] != "1y" || r["min"] != "0s" {
		t.Errorf("rule 2 as applied: %v", r)
	}
	if code, _, _ := s.call(t, auditor, "GET", "/v1/admin/retention", ""); code != 403 {
		t.Errorf("an auditor read the policy: %d", code)
	}
	s.sync(t)
	q := url.Values{"event_type": {httpapi.AccessedEventType}, "resource_type": {"retention_policy"}, "until": {queryNow.Add(time.Second).Format(time.RFC3339)}}
	code, _, b = s.call(t, auditor, "GET", "/v1/events?"+q.Encode(), "")
	var found queryBody
	if code != 200 || json.Unmarshal(b, &found) != nil || len(found.Events) != 1 || found.Events[0].Event.Resource.ID != got.Digest {
		t.Fatalf("the audited read: %d %s", code, b)
	}
}

// TestHoldBlocking: the report of a hold counts the published events in
// its scope and the index runs they make; a released hold blocks nothing;
// unknown holds are 404.
func TestHoldBlocking(t *testing.T) {
	s := newAccessServer(t)
	// Entry 1 is tenant b's (newAccessServer); an audited read of tenant
	// a's entry 0 (entry 2) and two more of b's follow.
	if code, _, b := s.call(t, readerA, "GET", "/v1/events/0", ""); code != 200 {
		t.Fatalf("read: %d %s", code, b)
	}
	if code, _, b := s.call(t, writerAny, "POST", "/v1/events?wait=published", "["+tenantEvent("b", "hold-1")+","+tenantEvent("b", "hold-2")+"]"); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	code, _, b := s.call(t, adm, "POST", "/v1/admin/holds", `{"tenant_id":"b","reason":"case 12"}`)
	var h hold.Hold
	if code != 201 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("place: %d %s", code, b)
	}
	s.sync(t)
	type report struct {
		Blocking bool
		Events   int
		TreeSize uint64 `json:"tree_size"`
		Ranges   []struct{ First, Last uint64 }
	}
	get := func() report {
		t.Helper()
		code, _, b := s.call(t, adm, "GET", "/v1/admin/holds/"+h.ID+"/blocking", "")
		var rep report
		if code != 200 || json.Unmarshal(b, &rep) != nil {
			t.Fatalf("blocking: %d %s", code, b)
		}
		return rep
	}
	rep := get()
	if !rep.Blocking || rep.Events != 3 || len(rep.Ranges) != 2 || rep.Ranges[0].First != 1 || rep.Ranges[0].Last != 1 ||
		rep.Ranges[1].First != 3 || rep.Ranges[1].Last != 4 || rep.TreeSize <= 4 {
		t.Fatalf("report %+v, want 3 events: entry 1, then a run of two", rep)
	}
	if code, _, _ := s.call(t, adm, "DELETE", "/v1/admin/holds/"+h.ID, ""); code != 200 {
		t.Fatalf("release: %d", code)
	}
	if rep := get(); rep.Blocking || rep.Events != 3 {
		t.Errorf("after release: %+v, want the same events and blocking false", rep)
	}
	for _, c := range []struct {
		caller, path string
		want         int
	}{{adm, "/v1/admin/holds/0123456789abcdef/blocking", 404}, {auditor, "/v1/admin/holds/" + h.ID + "/blocking", 403}} {
		if code, _, b := s.call(t, c.caller, "GET", c.path, ""); code != c.want {
			t.Errorf("GET %s: %d %s, want %d", c.path, code, b, c.want)
		}
	}
}
