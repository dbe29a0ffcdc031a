package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/ledger-dev/ledger/audit/audittest"
)

func TestActionOf(t *testing.T) {
	for method, want := range map[string]string{
		"GET": "read", "HEAD": "read", "POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete",
		"OPTIONS": "options", "PROPFIND": "propfind", "M-SEARCH": "m-search", "GET!": "unknown", "1X": "unknown",
	} {
		if got := actionOf(method); got != want {
			t.Errorf("actionOf(%q) = %q, want %q", method, got, want)
		}
	}
}

func TestRouteResource(t *testing.T) {
	for _, tt := range []struct {
		route, path string
		values      map[string]string
		want        Resource
	}{
		{"/records/{id}", "/records/42", map[string]string{"id": "42"}, Resource{Type: "records", ID: "42"}},
		{"/api/v1/users/{uid}/keys/{k}", "/api/v1/users/u/keys/k1", map[string]string{"uid": "u", "k": "k1"}, Resource{Type: "keys", ID: "k1"}},
		{"/records/{id}/archive", "/records/7/archive", map[string]string{"id": "7"}, Resource{Type: "records", ID: "7"}},
		{"/records", "/records", nil, Resource{Type: "records"}},
		{"/records/{$}", "/records/", nil, Resource{Type: "records"}},
		{"/files/{path...}", "/files/a/b", map[string]string{"path": "a/b"}, Resource{Type: "files", ID: "a/b"}},
		{"/docs/{id:[0-9]+}", "/docs/9", map[string]string{"id": "9"}, Resource{Type: "docs", ID: "9"}},
		{"/static/*", "/static/x.css", map[string]string{"*": "x.css"}, Resource{Type: "static", ID: "x.css"}},
		{"/{id}", "/abc", map[string]string{"id": "abc"}, Resource{Type: "path", ID: "/abc"}},
		{"", "/no/such%20thing", nil, Resource{Type: "path", ID: "/no/such%20thing"}},
		{"/", "/", nil, Resource{Type: "path", ID: "/"}},
		// A path parameter is the client's text: it is made valid.
		{"/records/{id}", "/records/x", map[string]string{"id": "a\x00b\xffc"}, Resource{Type: "records", ID: "a\uFFFDb\uFFFDc"}},
	} {
		r := httptest.NewRequest("GET", tt.path, nil)
		for k, v := range tt.values {
			r.SetPathValue(k, v)
		}
		if got := RouteResource(r, tt.route); got != tt.want {
			t.Errorf("RouteResource(%q) = %+v, want %+v", tt.route, got, tt.want)
		}
	}
}

func TestClientIP(t *testing.T) {
	for _, tt := range []struct {
		remote  string
		xff     []string
		proxies int
		want    string
	}{
		{"192.0.2.1:1234", nil, 0, "192.0.2.1"},
		{"[2001:DB8::1%eth0]:80", nil, 0, "2001:db8::1"},
		{"[::ffff:192.0.2.9]:80", nil, 0, "192.0.2.9"},
		{"@", nil, 0, ""},
		{"192.0.2.1:1234", []string{"203.0.113.5"}, 0, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"203.0.113.5"}, 1, "203.0.113.5"},
		// The client forged an entry: the proxy's is the last one.
		{"192.0.2.1:1234", []string{"10.9.9.9, 203.0.113.5"}, 1, "203.0.113.5"},
		{"192.0.2.1:1234", []string{"10.9.9.9, 203.0.113.5", "198.51.100.2"}, 2, "203.0.113.5"},
		{"192.0.2.1:1234", []string{"203.0.113.5:4711"}, 3, "203.0.113.5"},
		{"192.0.2.1:1234", []string{"garbage"}, 1, "192.0.2.1"},
		{"192.0.2.1:1234", nil, 1, "192.0.2.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		r.Header["X-Forwarded-For"] = tt.xff
		if got := clientIP(r, tt.proxies); got != tt.want {
			t.Errorf("clientIP(%q, X-Forwarded-For %q, %d proxies) = %q, want %q", tt.remote, tt.xff, tt.proxies, got, tt.want)
		}
	}
}

func TestRequestIDAndClean(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	for id, kept := range map[string]bool{"abc-123": true, strings.Repeat("x", 128): true, strings.Repeat("x", 129): false, "a b": false, "é": false, "": false} {
		r.Header.Set(RequestIDHeader, id)
		got := requestID(r)
		if u, err := uuid.Parse(got); got != id && (err != nil || u.Version() != 7) || (got == id) != kept {
			t.Errorf("requestID with X-Request-Id %q = %q, want it kept (%v) or a new UUIDv7", id, got, kept)
		}
	}
	long := clean(strings.Repeat("é", 1000))
	if len(long) != maxClientBytes || !strings.HasPrefix(long, "éé") {
		t.Errorf("clean cut 2000 bytes to %d", len(long))
	}
	if got := clean("Mozilla/5.0\x7f\u0085 ünï"); got != "Mozilla/5.0\uFFFD\uFFFD ünï" {
		t.Errorf("clean = %q", got)
	}
}

func TestMiddlewareConfig(t *testing.T) {
	c, err := NewClient("http://127.0.0.1:1", "")
	if err != nil {
		t.Fatal(err)
	}
	actor := func(*http.Request) Actor { return Actor{} }
	for _, cfg := range []MiddlewareConfig{
		{Actor: actor},
		{Client: c},
		{Client: c, Recorder: &Recorder{c: c}, Actor: actor},
		{Client: c, Actor: actor, Timeout: -1},
		{Client: c, Actor: actor, TrustedProxies: -1},
		{Client: c, Actor: actor, Source: "we\nb"},
	} {
		if _, err := NewMiddleware(cfg); err == nil {
			t.Errorf("NewMiddleware(%+v) succeeded", cfg)
		}
	}
}

// mwLogger sends logs to the test's.
func mwLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(mwLogWriter{t}, nil))
}

type mwLogWriter struct{ t *testing.T }

func (w mwLogWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// mwClient returns a Client of the ledger at url that gives up quickly.
func mwClient(t *testing.T, url string) *Client {
	t.Helper()
	c, err := New(t.Context(), Config{URL: url, MaxAttempts: 2, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: mwLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mwNew(t *testing.T, cfg MiddlewareConfig) func(http.Handler) http.Handler {
	t.Helper()
	if cfg.Actor == nil {
		cfg.Actor = func(r *http.Request) Actor { return Actor{ID: r.Header.Get("X-User"), Type: "user"} }
	}
	mw, err := NewMiddleware(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

// mwSummary is what the middleware derives from a request and its answer.
type mwSummary struct {
	Action, Actor, Resource, Result, FailureReason, Route, Status, Method string
}

func mwSummarize(ev *Event) mwSummary {
	return mwSummary{
		Action: ev.Action, Actor: ev.Actor.ID + "/" + ev.Actor.Type, Resource: ev.Resource.Type + "/" + ev.Resource.ID,
		Result: ev.Result, FailureReason: ev.FailureReason, Route: ev.Tags["route"], Status: ev.Tags["status"], Method: ev.Tags["method"],
	}
}

// mwRequest is one request of a table and the event it should cause.
type mwRequest struct {
	method, path, user string
	status             int
	body               string
	want               mwSummary
}

// mwDo sends req to srv and checks its status and body.
func mwDo(t *testing.T, srv *httptest.Server, req mwRequest) *http.Response {
	t.Helper()
	r, err := http.NewRequest(req.method, srv.URL+req.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-User", req.user)
	r.Header.Set("User-Agent", "mw-test/1")
	r.Header.Set("X-Forwarded-For", "203.0.113.7") // not trusted by default
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != req.status || string(b) != req.body {
		t.Fatalf("%s %s: %s %q, %v; want %d %q", req.method, req.path, resp.Status, b, err, req.status, req.body)
	}
	return resp
}

// mwCheck checks the fields every event of an mwDo request has.
func mwCheck(t *testing.T, ev *Event, req mwRequest, resp *http.Response) {
	t.Helper()
	if got := mwSummarize(ev); got != req.want {
		t.Errorf("%s %s: event\n%+v, want\n%+v", req.method, req.path, got, req.want)
	}
	if ev.EventType != "http.request" || ev.IPAddress != "127.0.0.1" || ev.UserAgent != "mw-test/1" {
		t.Errorf("%s %s: event_type %q, ip_address %q, user_agent %q", req.method, req.path, ev.EventType, ev.IPAddress, ev.UserAgent)
	}
	if ev.RequestID == "" || resp.Header.Get(RequestIDHeader) != ev.RequestID {
		t.Errorf("%s %s: request_id %q, the response's X-Request-Id %q", req.method, req.path, ev.RequestID, resp.Header.Get(RequestIDHeader))
	}
	if ms, err := strconv.ParseFloat(ev.Tags["duration_ms"], 64); err != nil || ms < 0 || ms > 5000 {
		t.Errorf("%s %s: duration_ms %q", req.method, req.path, ev.Tags["duration_ms"])
	}
}

// recordsMux serves the routes the tables below request, on a ServeMux.
func recordsMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /records/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "record %s", r.PathValue("id"))
	})
	mux.HandleFunc("PUT /records/{id}", func(w http.ResponseWriter, r *http.Request) {
		ev := RequestEvent(r)
		ev.Changes = map[string]Change{"title": {Old: json.RawMessage(`"a"`), New: json.RawMessage(`"b"`)}}
		ev.Reason = "ticket 12"
	}) // never writes: 200
	mux.HandleFunc("DELETE /records/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	})
	mux.HandleFunc("POST /records", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	return mux
}

var recordsRequests = []mwRequest{
	{"GET", "/records/42", "alice", 200, "record 42", mwSummary{"read", "alice/user", "records/42", "success", "", "/records/{id}", "200", "GET"}},
	{"PUT", "/records/42", "alice", 200, "", mwSummary{"update", "alice/user", "records/42", "success", "", "/records/{id}", "200", "PUT"}},
	{"DELETE", "/records/42", "bob", 403, "no\n", mwSummary{"delete", "bob/user", "records/42", "denied", "HTTP 403 Forbidden", "/records/{id}", "403", "DELETE"}},
	{"POST", "/records", "", 201, "", mwSummary{"create", "anonymous/user", "records/", "success", "", "/records", "201", "POST"}},
	{"GET", "/nowhere", "carol", 404, "404 page not found\n", mwSummary{"read", "carol/user", "path//nowhere", "failure", "HTTP 404 Not Found", "", "404", "GET"}},
	{"GET", "/healthz", "dave", 200, "", mwSummary{}}, // skipped
}

func TestMiddlewareFailClosed(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	mw := mwNew(t, MiddlewareConfig{Client: mwClient(t, lg.URL), Skip: func(r *http.Request) bool { return r.URL.Path == "/healthz" }})
	srv := httptest.NewServer(mw(recordsMux()))
	defer srv.Close()
	n := 0
	for _, req := range recordsRequests {
		resp := mwDo(t, srv, req)
		if req.want == (mwSummary{}) {
			continue
		}
		// Fail closed: the event was durable before the response was sent.
		ev := lg.Event(t, n)
		if ev == nil {
			t.Fatalf("%s %s: no event %d in the log once answered", req.method, req.path, n)
		}
		n++
		mwCheck(t, ev, req, resp)
		if req.method == "PUT" && (ev.Reason != "ticket 12" || string(ev.Changes["title"].New) != `"b"`) {
			t.Errorf("the handler's additions to the event: reason %q, changes %v", ev.Reason, ev.Changes)
		}
	}
	if ev := lg.Event(t, n); ev != nil {
		t.Errorf("an event was logged for a skipped request: %+v", ev)
	}
}

func TestMiddlewareFailClosedLedgerDown(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	lg.Stop()
	calls := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cret"})
		w.Write([]byte("the secret body"))
	})
	srv := httptest.NewServer(mwNew(t, MiddlewareConfig{Client: mwClient(t, lg.URL)})(h))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/records/1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error     string
		RequestID string `json:"request_id"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil || resp.StatusCode != http.StatusServiceUnavailable || body.Error == "" {
		t.Fatalf("with the ledger down: %s %s", resp.Status, b)
	}
	if strings.Contains(string(b), "secret") || resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("the handler's response leaked: %v %s", resp.Header, b)
	}
	if calls != 1 || body.RequestID == "" || resp.Header.Get(RequestIDHeader) != body.RequestID {
		t.Errorf("%d handler calls, request ID %q, header %q", calls, body.RequestID, resp.Header.Get(RequestIDHeader))
	}
}

func TestMiddlewareFailClosedRefused(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		RequestEvent(r).Actor = Actor{ID: "x", Type: "robot"}
		w.Write([]byte("body"))
	})
	rec := httptest.NewRecorder()
	mwNew(t, MiddlewareConfig{Client: mwClient(t, lg.URL)})(h).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "body") {
		t.Fatalf("an invalid event: %d %q", rec.Code, rec.Body)
	}
	if lg.Event(t, 0) != nil {
		t.Fatal("an invalid event was logged")
	}
}

// TestMiddlewareFailClosedStreams checks that a handler that flushes, or
// writes more than BufferBytes, streams its response, and that its event
// is durable before the first byte reaches the client.
func TestMiddlewareFailClosedStreams(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	mw := mwNew(t, MiddlewareConfig{Client: mwClient(t, lg.URL), BufferBytes: 64})
	for i, flush := range []bool{true, false} {
		first := strings.Repeat("x", 10)
		if !flush {
			first = strings.Repeat("y", 8<<10) // more than net/http buffers, too
		}
		proceed := make(chan struct{})
		srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(first))
			if flush {
				w.(http.Flusher).Flush()
			}
			<-proceed
			w.Write([]byte("end"))
		})))
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(first))
		if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != first || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("flush %v: %s %q, %v", flush, resp.Status, got, err)
		}
		if ev := lg.Event(t, i); ev == nil || ev.Tags["status"] != "202" {
			t.Fatalf("flush %v: the event once the response streams: %+v", flush, ev)
		}
		close(proceed)
		rest, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if err != nil || string(rest) != "end" {
			t.Fatalf("flush %v: the rest of the response: %q, %v", flush, rest, err)
		}
	}
}

func TestMiddlewarePanic(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	closed := mwNew(t, MiddlewareConfig{Client: mwClient(t, lg.URL)})
	rec := mwRecorder(t, lg.URL, t.TempDir())
	open := mwNew(t, MiddlewareConfig{Recorder: rec})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("half"))
		panic("boom")
	})
	for i, mw := range []func(http.Handler) http.Handler{closed, open} {
		w := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != "boom" {
					t.Errorf("middleware %d: recovered %v, want the handler's panic", i, v)
				}
			}()
			mw(h).ServeHTTP(w, httptest.NewRequest("POST", "/records", nil))
		}()
		if i == 0 && w.Body.Len() != 0 {
			t.Errorf("fail closed: a panicking handler's response was sent: %q", w.Body)
		}
	}
	if err := rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		ev := lg.Event(t, i)
		if ev == nil || ev.Result != ResultFailure || ev.FailureReason != "handler panicked" || ev.Tags["status"] != "500" {
			t.Errorf("event %d of a panicking handler: %+v", i, ev)
		}
	}
}

// mwRecorder returns a Recorder of the ledger at url spooling in dir.
func mwRecorder(t *testing.T, url, dir string) *Recorder {
	t.Helper()
	c, err := New(t.Context(), Config{URL: url, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: mwLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := NewRecorder(t.Context(), RecorderConfig{Client: c, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		rec.Close(ctx) // a test with the ledger still down leaves events in its spool
	})
	return rec
}

// TestMiddlewareFailOpen serves requests while the ledger is down: the
// handler's responses go out, and the events reach the ledger once it is
// up.
func TestMiddlewareFailOpen(t *testing.T) {
	addr := audittest.FreeAddr(t)
	rec := mwRecorder(t, "http://"+addr+"/", t.TempDir())
	mw := mwNew(t, MiddlewareConfig{Recorder: rec, Skip: func(r *http.Request) bool { return r.URL.Path == "/healthz" }})
	srv := httptest.NewServer(mw(recordsMux()))
	defer srv.Close()
	var resps []*http.Response
	for _, req := range recordsRequests {
		resps = append(resps, mwDo(t, srv, req))
	}
	lg := audittest.Start(t, audittest.Config{Addr: addr})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := rec.Flush(ctx); err != nil {
		t.Fatalf("Flush once the ledger is up: %v", err)
	}
	n := 0
	for i, req := range recordsRequests {
		if req.want == (mwSummary{}) {
			continue
		}
		ev := lg.Event(t, n)
		if ev == nil {
			t.Fatalf("%s %s: no event %d in the log after Flush", req.method, req.path, n)
		}
		n++
		mwCheck(t, ev, req, resps[i])
	}
	if ev := lg.Event(t, n); ev != nil {
		t.Errorf("an event was logged for a skipped request: %+v", ev)
	}
	if s := rec.Stats(); s.Sent != uint64(n) {
		t.Errorf("Stats after Flush: %+v, want %d sent", s, n)
	}
}

// TestMiddlewareChi checks the route, action and resource under chi, the
// middleware installed with Use (so it runs before chi routes).
func TestMiddlewareChi(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	rec := mwRecorder(t, lg.URL, t.TempDir())
	r := chi.NewRouter()
	r.Use(mwNew(t, MiddlewareConfig{Recorder: rec, TrustedProxies: 1}))
	r.Get("/records/{id}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "record %s", chi.URLParam(r, "id")) })
	r.Route("/api/v1", func(r chi.Router) {
		r.Delete("/users/{uid}/keys/{keyID:[a-z0-9]+}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		r.Patch("/users/{uid}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	for i, req := range []mwRequest{
		{"GET", "/records/42", "alice", 200, "record 42", mwSummary{"read", "alice/user", "records/42", "success", "", "/records/{id}", "200", "GET"}},
		{"DELETE", "/api/v1/users/u1/keys/k9", "alice", 204, "", mwSummary{"delete", "alice/user", "keys/k9", "success", "", "/api/v1/users/{uid}/keys/{keyID:[a-z0-9]+}", "204", "DELETE"}},
		{"PATCH", "/api/v1/users/u1", "", 401, "", mwSummary{"update", "anonymous/user", "users/u1", "denied", "HTTP 401 Unauthorized", "/api/v1/users/{uid}", "401", "PATCH"}},
		// chi matched the mount point of the subrouter, which found nothing.
		{"GET", "/api/v1/nowhere", "bob", 404, "404 page not found\n", mwSummary{"read", "bob/user", "v1/nowhere", "failure", "HTTP 404 Not Found", "/api/v1/*", "404", "GET"}},
		{"GET", "/nowhere", "bob", 404, "404 page not found\n", mwSummary{"read", "bob/user", "path//nowhere", "failure", "HTTP 404 Not Found", "", "404", "GET"}},
	} {
		resp := mwDo(t, srv, req)
		if err := rec.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		ev := lg.Event(t, i)
		if ev == nil {
			t.Fatalf("%s %s: no event after Flush", req.method, req.path)
		}
		if got := mwSummarize(ev); got != req.want {
			t.Errorf("%s %s: event\n%+v, want\n%+v", req.method, req.path, got, req.want)
		}
		if ev.IPAddress != "203.0.113.7" || ev.RequestID != resp.Header.Get(RequestIDHeader) {
			t.Errorf("%s %s: ip_address %q (one trusted proxy), request_id %q", req.method, req.path, ev.IPAddress, ev.RequestID)
		}
	}
}

// TestMiddlewareRequestID checks that a client's X-Request-Id is kept and
// that the events' timestamps are the requests' arrival.
func TestMiddlewareRequestID(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	mw := mwNew(t, MiddlewareConfig{Client: mwClient(t, lg.URL), Source: "web", Tenant: func(*http.Request) string { return "acme" }})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(20 * time.Millisecond) }))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(RequestIDHeader, "req-7")
	before := time.Now()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	ev := lg.Event(t, 0)
	if ev == nil || ev.RequestID != "req-7" || w.Header().Get(RequestIDHeader) != "req-7" || ev.Source != "web" || ev.TenantID != "acme" {
		t.Fatalf("event %+v, response header %q", ev, w.Header().Get(RequestIDHeader))
	}
	if d := ev.Timestamp.Sub(before); d < 0 || d > 10*time.Millisecond {
		t.Errorf("timestamp %v is %v after the request arrived", ev.Timestamp, d)
	}
	if ms, _ := strconv.ParseFloat(ev.Tags["duration_ms"], 64); ms < 20 {
		t.Errorf("duration_ms %q for a 20 ms handler", ev.Tags["duration_ms"])
	}
}
