package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ledger-dev/ledger/ledger/access"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/httpapi"
)

// consoleHandler stands in for the web console: its page names the caller,
// /console/fail answers an error of its own, and every other path is not
// found. It serves the public /status/ page too.
func consoleHandler() http.Handler {
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, r *http.Request) {
		who := "anonymous"
		if tok := httpapi.CallerOf(r); tok != nil {
			who = "token " + tok.ID + " (" + string(tok.Role) + ")"
		}
		fmt.Fprintf(w, "%s for %s", r.URL.Path, who)
	}
	mux.HandleFunc("GET /console/{$}", page)
	mux.HandleFunc("GET /status/{$}", page)
	mux.HandleFunc("GET /console/fail", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, errors.New("the console's own failure"))
	})
	mux.HandleFunc("/", httpapi.NotFound)
	return mux
}

// newMountServer is an access-controlled server with the console mounted
// for auditors and admins, the status page for anyone, and a chi router
// (which answers unknown paths itself) for auditors.
func newMountServer(t *testing.T) *accessServer {
	sub := chi.NewRouter()
	sub.Get("/ping", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("pong")) })
	return newAccessServer(t, func(c *httpapi.Config) {
		c.Mounts = []httpapi.Mount{
			{Path: "/console/", Handler: consoleHandler(), Roles: []access.Role{access.Auditor, access.Admin}, Params: []string{"view"}},
			{Path: "/status/", Handler: consoleHandler()},
			{Path: "/next/", Handler: sub, Roles: []access.Role{access.Auditor}},
		}
	})
}

// TestMount: a mounted handler is served under the API's authentication,
// role check and error mapping, and finds its caller.
func TestMount(t *testing.T) {
	s := newMountServer(t)
	auditorTok, err := s.keyring.Authenticate(s.tokens[auditor])
	if err != nil {
		t.Fatal(err)
	}
	const u401 = 401
	for _, c := range []struct {
		path string
		want []int // by caller, in the order of callers
		body string
	}{
		{"/console/", []int{u401, u401, u401, u401, 403, 403, 403, 403, 200, 200, 403}, ""},
		{"/console/missing.js", []int{u401, u401, u401, u401, 403, 403, 403, 403, 404, 404, 403}, `"error":"not found: /console/missing.js"`},
		{"/console/fail", []int{u401, u401, u401, u401, 403, 403, 403, 403, 500, 500, 403}, `"error":"internal server error; the server's log has the details under the request id"`},
		{"/status/", []int{200, u401, u401, u401, 200, 200, 200, 200, 200, 200, 200}, ""},
		{"/next/ping", []int{u401, u401, u401, u401, 403, 403, 403, 403, 200, 403, 403}, ""},
		{"/next/missing", []int{u401, u401, u401, u401, 403, 403, 403, 403, 404, 403, 403}, `"error":"not found: /next/missing"`},
	} {
		for i, caller := range callers {
			code, hdr, body := s.call(t, caller, "GET", c.path, "")
			if code != c.want[i] {
				t.Errorf("GET %s as %s: %d, want %d: %.200s", c.path, caller, code, c.want[i], body)
			}
			if code < 400 {
				continue
			}
			var e struct {
				Error     string `json:"error"`
				RequestID string `json:"request_id"`
			}
			if hdr.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil ||
				e.RequestID == "" || e.RequestID != hdr.Get(httpapi.RequestIDHeader) {
				t.Errorf("GET %s as %s: %d with %s body %q, want the API's JSON error", c.path, caller, code, hdr.Get("Content-Type"), body)
			}
			if code == c.want[i] && c.body != "" && code >= 404 && !strings.Contains(string(body), c.body) {
				t.Errorf("GET %s as %s: body %s, want it to hold %s", c.path, caller, body, c.body)
			}
			if code == u401 && hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s as %s: 401 without WWW-Authenticate", c.path, caller)
			}
		}
	}
	if code, _, b := s.call(t, auditor, "GET", "/console/", ""); code != 200 || string(b) != "/console/ for token "+auditorTok.ID+" (auditor)" {
		t.Errorf("the console's page as the auditor: %d %q", code, b)
	}
	if code, _, b := s.call(t, none, "GET", "/status/", ""); code != 200 || string(b) != "/status/ for anonymous" {
		t.Errorf("the public page without a token: %d %q", code, b)
	}
	// The API is unchanged around the mounts.
	if code, _, b := s.call(t, none, "GET", "/checkpoint", ""); code != 200 {
		t.Errorf("GET /checkpoint: %d %s", code, b)
	}
}

// TestMountIsAudited: every request of a token to a mount with roles is in
// the log as an audit.accessed event like an API read, refusals included;
// requests to a public mount are not.
func TestMountIsAudited(t *testing.T) {
	s := newMountServer(t)
	code, hdr, b := s.call(t, auditor, "GET", "/console/?view=failed&api_key=hunter2", "")
	if code != 200 {
		t.Fatalf("the console as the auditor: %d %s", code, b)
	}
	reqID := hdr.Get(httpapi.RequestIDHeader)
	if code, _, _ := s.call(t, auditor, "GET", "/console/missing.js", ""); code != 404 {
		t.Fatalf("a missing console file: %d, want 404", code)
	}
	if code, _, _ := s.call(t, readerA, "GET", "/console/", ""); code != 403 {
		t.Fatalf("the console as a reader: %d, want 403", code)
	}
	if code, _, _ := s.call(t, auditor, "GET", "/status/", ""); code != 200 {
		t.Fatalf("the status page: %d, want 200", code)
	}
	s.sync(t)

	auditorTok, err := s.keyring.Authenticate(s.tokens[auditor])
	if err != nil {
		t.Fatal(err)
	}
	readerTok, err := s.keyring.Authenticate(s.tokens[readerA])
	if err != nil {
		t.Fatal(err)
	}
	accesses := func(q url.Values) queryBody {
		t.Helper()
		q.Set("event_type", httpapi.AccessedEventType)
		q.Set("until", queryNow.Add(time.Second).Format(time.RFC3339))
		code, _, b := s.call(t, auditor, "GET", "/v1/events?"+q.Encode(), "")
		var found queryBody
		if code != 200 || json.Unmarshal(b, &found) != nil {
			t.Fatalf("audit.accessed events %s: %d %s", q.Encode(), code, b)
		}
		return found
	}
	found := accesses(url.Values{"resource_id": {"/console/"}, "actor_id": {"token:" + auditorTok.ID}})
	if len(found.Events) != 1 {
		t.Fatalf("the auditor's console reads: %d events, want 1", len(found.Events))
	}
	ev := found.Events[0].Event
	if ev.Actor.Role != "auditor" || ev.Action != "read" || ev.Result != "success" || ev.Resource.Type != "audit_log" ||
		ev.Tags["endpoint"] != "GET /console/*" || ev.Tags["query"] != "api_key=[REDACTED]&view=failed" || ev.RequestID != reqID || ev.Source != "api" {
		t.Fatalf("access event %+v does not describe the console read (request id %s)", ev, reqID)
	}
	if found := accesses(url.Values{"resource_id": {"/console/missing.js"}}); len(found.Events) != 1 {
		t.Fatalf("the read of a missing console file: %d events, want 1", len(found.Events))
	}
	denied := accesses(url.Values{"result": {"denied"}, "actor_id": {"token:" + readerTok.ID}})
	if len(denied.Events) != 1 || denied.Events[0].Event.Tags["endpoint"] != "GET /console/*" {
		t.Fatalf("the reader's refused console read: %+v, want one denied event", denied.Events)
	}
	if found := accesses(url.Values{"resource_id": {"/status/"}}); len(found.Events) != 0 {
		t.Fatalf("the public page's read was audited: %+v", found.Events[0].Event)
	}
}

// TestMountRefused: New refuses mounts that would overlap the API or each
// other, or that have no handler.
func TestMountRefused(t *testing.T) {
	ts := newTestServer(t, event.Limits{}, 0)
	h := http.NotFoundHandler()
	for _, mounts := range [][]httpapi.Mount{
		{{Path: "console/", Handler: h}},
		{{Path: "/console", Handler: h}},
		{{Path: "/", Handler: h}},
		{{Path: "//", Handler: h}},
		{{Path: "/console//x/", Handler: h}},
		{{Path: "/console/", Handler: nil}},
		{{Path: "/v1/", Handler: h}},
		{{Path: "/tile/extra/", Handler: h}},
		{{Path: "/metrics/", Handler: h}},
		{{Path: "/console/", Handler: h}, {Path: "/console/api/", Handler: h}},
	} {
		if _, err := httpapi.New(httpapi.Config{Ledger: ts.l, Tiles: ts.store, Mounts: mounts}); err == nil {
			t.Errorf("New accepted the mounts %+v", mounts)
		}
	}
}
