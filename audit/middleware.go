package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ledger-dev/ledger/ledger/event"
)

// RequestIDHeader is the header a request ID is read from, and echoed in
// on the response.
const RequestIDHeader = "X-Request-Id"

// MiddlewareConfig configures NewMiddleware. Exactly one of Client and
// Recorder is set, and it chooses the mode. Zero values take the documented
// defaults.
//
// The event of a request is filled in after its handler returned (so that a
// router has matched the route by then), from the request the handler was
// given. Fields the handler set on RequestEvent(r) are kept.
type MiddlewareConfig struct {
	// Client makes the middleware fail closed: the handler's response is
	// held in memory until its event is durable in the ledger
	// (Client.Append, at the Client's Wait level). If the event cannot be
	// recorded within Timeout the response is discarded and the client gets
	// a JSON error instead: 503 when the ledger is unavailable, 500 when it
	// refused the event. The handler has run by then: its side effects
	// (writes to a database, calls to other services) have happened.
	Client *Client
	// Recorder makes the middleware fail open: the response goes to the
	// client as the handler writes it, and the event is handed to
	// Recorder.Enqueue when the handler returns. Nothing waits for the
	// ledger; under the Recorder's Block policy a full queue delays the end
	// of the response, under Reject the event is dropped and logged.
	Recorder *Recorder
	// Actor returns who made the request, e.g. from the session an
	// authentication middleware placed in r's context. Required. An actor
	// without ID is recorded as "anonymous", one without Type as "user", so
	// that requests without credentials are logged too.
	Actor func(r *http.Request) Actor
	// Tenant returns the request's tenant ID. Default: none.
	Tenant func(r *http.Request) string
	// Route returns the route pattern that matched r, e.g. "/records/{id}";
	// it is the event's tags["route"] and the input of Resource and
	// EventType. Default: r.Pattern without its method and host, which both
	// net/http's ServeMux (Go 1.22+) and chi (v5.5.0, the version this
	// module requires) set on the request they route. Behind a middleware that replaces the request (see
	// docs/sdk.md) chi's own record is the reliable one:
	//	func(r *http.Request) string { return chi.RouteContext(r.Context()).RoutePattern() }
	Route func(r *http.Request) string
	// Resource returns what the request acted upon, given its route.
	// Default: RouteResource.
	Resource func(r *http.Request, route string) Resource
	// EventType returns the event's type, given the request's route.
	// Default: "http.request".
	EventType func(r *http.Request, route string) string
	// Source is the events' source, e.g. "web" or "api". Default: none.
	Source string
	// TrustedProxies is the number of reverse proxies in front of the
	// application, each appending to X-Forwarded-For the address it got the
	// request from. The client's IP address is then the TrustedProxies-th
	// entry from the right (the leftmost if there are fewer; that of
	// r.RemoteAddr if the entry is not an IP address). Default 0: X-Forwarded-For, which anyone can
	// send, is ignored and the IP address is that of r.RemoteAddr.
	TrustedProxies int
	// Skip, if set, exempts the requests it returns true for (health
	// checks, static files): they are served without an event.
	Skip func(r *http.Request) bool
	// Timeout bounds the wait for the ledger in fail-closed mode, retries
	// included. It is not cut short when the client goes away: the handler
	// has acted, so its event is recorded regardless. Default 5 s.
	Timeout time.Duration
	// BufferBytes bounds the response held in fail-closed mode. A handler
	// that writes more, or calls Flush, has its event recorded at that
	// point, with the status it has set and the duration so far; the
	// response then streams. Default 1 MiB.
	BufferBytes int
	// Logger receives the events that could not be recorded. Default: the
	// Client's or the Recorder's.
	Logger *slog.Logger
}

func (c *MiddlewareConfig) validate() error {
	if (c.Client == nil) == (c.Recorder == nil) {
		return errors.New("audit: MiddlewareConfig needs exactly one of Client (fail closed) and Recorder (fail open)")
	}
	if c.Actor == nil {
		return errors.New("audit: MiddlewareConfig.Actor is required")
	}
	if c.TrustedProxies < 0 || c.Timeout < 0 || c.BufferBytes < 0 {
		return errors.New("audit: MiddlewareConfig.TrustedProxies, Timeout and BufferBytes must not be negative")
	}
	if c.Source != "" && !printable(c.Source, maxClientBytes) {
		return fmt.Errorf("audit: MiddlewareConfig.Source %q is not printable ASCII text", c.Source)
	}
	if c.Route == nil {
		c.Route = patternRoute
	}
	if c.Resource == nil {
		c.Resource = RouteResource
	}
	if c.EventType == nil {
		c.EventType = func(*http.Request, string) string { return "http.request" }
	}
	c.Timeout = cmp.Or(c.Timeout, 5*time.Second)
	c.BufferBytes = cmp.Or(c.BufferBytes, 1<<20)
	if c.Logger == nil {
		c.Logger = c.client().log
	}
	return nil
}

// client is the Client that sends the events, in either mode.
func (c *MiddlewareConfig) client() *Client {
	if c.Client != nil {
		return c.Client
	}
	return c.Recorder.c
}

// NewMiddleware validates cfg and returns a net/http middleware (the
// signature chi's Use takes) that records one audit event per request, set
// from the request and its response:
//
//	action          GET, HEAD: read; POST: create; PUT, PATCH: update;
//	                DELETE: delete; other methods in lowercase
//	actor           cfg.Actor
//	tenant_id       cfg.Tenant
//	event_type      cfg.EventType, "http.request" by default
//	resource        cfg.Resource, RouteResource by default
//	result          401, 403: denied; other 4xx and 5xx: failure;
//	                else success
//	failure_reason  "HTTP 404 Not Found" for a 404, and so on;
//	                "handler panicked" if it did
//	ip_address      r.RemoteAddr, or X-Forwarded-For (cfg.TrustedProxies)
//	user_agent      the User-Agent header
//	request_id      the X-Request-Id header if it is 1 to 128 printable
//	                ASCII characters, else a new UUIDv7; echoed in the
//	                response's X-Request-Id
//	timestamp       when the request arrived
//	source          cfg.Source
//	tags            route (cfg.Route, if any), method, status and
//	                duration_ms (the handler's, in milliseconds)
//
// Text taken from the request (user agent, path parameters, the path) is
// cut to 1024 bytes and control characters and invalid UTF-8 are replaced
// by U+FFFD, so that a request cannot make its own event invalid.
//
// A handler that panics has its event recorded (result failure) before the
// panic goes on to the server, which then closes the connection.
func NewMiddleware(cfg MiddlewareConfig) (func(http.Handler) http.Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	now := cfg.client().cfg.Now
	return func(next http.Handler) http.Handler {
		return &middleware{cfg: cfg, now: now, next: next}
	}, nil
}

// RequestEvent returns the event the middleware records for r, for the
// handler, or a middleware inside the audit one, to complete: it may set
// Changes, Reason, SessionID, a more precise Action or Resource, or the
// Actor once it authenticated the request. The fields it leaves empty are
// filled in after it returns, as NewMiddleware says. RequestEvent returns
// nil for a request that did not go through the middleware.
//
// The event must not be changed once the handler returned, nor in
// fail-closed mode once the response was released (a Flush, or more than
// BufferBytes written): it was recorded then.
func RequestEvent(r *http.Request) *Event {
	ev, _ := r.Context().Value(eventKey{}).(*Event)
	return ev
}

type eventKey struct{}

type middleware struct {
	cfg  MiddlewareConfig
	now  func() time.Time
	next http.Handler
}

// request is one request on its way through the middleware.
type request struct {
	r     *http.Request // what the handler is given, RequestEvent in its context
	ev    *Event
	start time.Time
}

// ServeHTTP records the event of one request around the handler.
func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.cfg.Skip != nil && m.cfg.Skip(r) {
		m.next.ServeHTTP(w, r)
		return
	}
	ev := &Event{
		Timestamp: m.now(),
		Source:    m.cfg.Source,
		IPAddress: clientIP(r, m.cfg.TrustedProxies),
		UserAgent: clean(r.UserAgent()),
		RequestID: requestID(r),
	}
	w.Header().Set(RequestIDHeader, ev.RequestID)
	q := &request{r: r.WithContext(context.WithValue(r.Context(), eventKey{}, ev)), ev: ev, start: time.Now()}
	if m.cfg.Client != nil {
		m.serveClosed(w, q)
	} else {
		m.serveOpen(w, q)
	}
}

// serveOpen passes the response through and enqueues the event when the
// handler returns or panics.
func (m *middleware) serveOpen(w http.ResponseWriter, q *request) {
	sw := &statusWriter{ResponseWriter: w}
	returned := false
	defer func() {
		status := cmp.Or(sw.status, http.StatusOK)
		if !returned {
			status = panicked(q.ev)
		}
		ev := m.complete(q, status)
		if err := m.cfg.Recorder.Enqueue(ev); err != nil {
			m.cfg.Logger.Error("couldn't record the audit event of a request", "request_id", ev.RequestID, "err", err)
		}
	}()
	m.next.ServeHTTP(sw, q.r)
	returned = true
}

// serveClosed holds the response until the event is durable.
func (m *middleware) serveClosed(w http.ResponseWriter, q *request) {
	hw := &heldWriter{rw: w, header: w.Header().Clone(), limit: m.cfg.BufferBytes, requestID: q.ev.RequestID,
		record: func(status int) error { return m.record(q, status) }}
	returned := false
	defer func() {
		if !returned && hw.state == holding {
			// The held response is dropped: the panic goes on and the
			// server closes the connection without an answer.
			_ = m.record(q, panicked(q.ev)) // a failure is logged; there is no response left to change
		}
	}()
	m.next.ServeHTTP(hw, q.r)
	returned = true
	hw.release()
}

// record completes the event of q and appends it to the ledger.
func (m *middleware) record(q *request, status int) error {
	ev := m.complete(q, status)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(q.r.Context()), m.cfg.Timeout)
	defer cancel()
	if _, err := m.cfg.Client.Append(ctx, ev); err != nil {
		m.cfg.Logger.Error("couldn't record the audit event of a request; its response is withheld", "request_id", ev.RequestID, "err", err)
		return err
	}
	return nil
}

// panicked marks ev as the event of a handler that panicked and returns
// the status it is recorded with.
func panicked(ev *Event) int {
	ev.Result = cmp.Or(ev.Result, ResultFailure)
	ev.FailureReason = cmp.Or(ev.FailureReason, "handler panicked")
	return http.StatusInternalServerError
}

// complete fills in the fields of q's event that the handler left empty.
func (m *middleware) complete(q *request, status int) *Event {
	ev, r := q.ev, q.r
	route := m.cfg.Route(r)
	if ev.Actor.ID == "" {
		ev.Actor = m.cfg.Actor(r)
	}
	ev.Actor.ID = cmp.Or(ev.Actor.ID, "anonymous")
	ev.Actor.Type = cmp.Or(ev.Actor.Type, "user")
	if ev.TenantID == "" && m.cfg.Tenant != nil {
		ev.TenantID = m.cfg.Tenant(r)
	}
	ev.EventType = cmp.Or(ev.EventType, m.cfg.EventType(r, route))
	ev.Action = cmp.Or(ev.Action, actionOf(r.Method))
	if ev.Resource.Type == "" {
		ev.Resource = m.cfg.Resource(r, route)
	}
	if ev.Result == "" {
		ev.Result = resultOf(status)
		if ev.Result != ResultSuccess {
			ev.FailureReason = cmp.Or(ev.FailureReason, strings.TrimSpace("HTTP "+strconv.Itoa(status)+" "+http.StatusText(status)))
		}
	}
	if ev.Tags == nil {
		ev.Tags = make(map[string]string, 4)
	}
	tag := func(k, v string) {
		if _, ok := ev.Tags[k]; !ok && v != "" {
			ev.Tags[k] = v
		}
	}
	tag("route", route)
	tag("method", clean(r.Method))
	tag("status", strconv.Itoa(status))
	tag("duration_ms", strconv.FormatFloat(float64(time.Since(q.start).Microseconds())/1000, 'f', 3, 64))
	return ev
}

// actionOf maps an HTTP method to an event action.
func actionOf(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "read"
	case http.MethodPost:
		return "create"
	case http.MethodPut, http.MethodPatch:
		return "update"
	case http.MethodDelete:
		return "delete"
	}
	a := strings.ToLower(method)
	ok := len(a) <= 128 && a != "" && a[0] >= 'a' && a[0] <= 'z'
	for i := 0; ok && i < len(a); i++ {
		c := a[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
	}
	if !ok {
		return "unknown"
	}
	return a
}

// resultOf maps an HTTP status to an event result.
func resultOf(status int) string {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ResultDenied
	case status >= 400:
		return ResultFailure
	}
	return ResultSuccess
}

// patternRoute is the default MiddlewareConfig.Route: r.Pattern without the
// method and host of a ServeMux pattern ("GET example.com/records/{id}").
func patternRoute(r *http.Request) string {
	p := r.Pattern
	if i := strings.IndexByte(p, '/'); i > 0 {
		p = p[i:]
	}
	return p
}

// RouteResource is the default MiddlewareConfig.Resource. The resource is
// named by the route's last path parameter and the static segment before
// it; a route without parameters names a type alone, its last static
// segment:
//
//	/records/{id}                 {Type: "records", ID: r.PathValue("id")}
//	/api/v1/users/{uid}/keys/{k}  {Type: "keys", ID: r.PathValue("k")}
//	/records/{id}/archive         {Type: "records", ID: r.PathValue("id")}
//	/records                      {Type: "records"}
//
// Parameters are net/http's ({id}, {path...}) and chi's ({id}, {id:regexp},
// *); chi v5.5.0 sets them as path values too. Without a route (none
// matched), or with one without a static segment before its parameter, the
// resource is {Type: "path", ID: r.URL.EscapedPath()}.
func RouteResource(r *http.Request, route string) Resource {
	var static, typ, param string
	for seg := range strings.SplitSeq(route, "/") {
		if name := paramName(seg); name != "" {
			typ, param = static, name
		} else if seg != "" && seg != "{$}" {
			static = seg
		}
	}
	switch {
	case param == "" && static != "":
		return Resource{Type: static}
	case param != "" && typ != "":
		return Resource{Type: typ, ID: clean(r.PathValue(param))}
	}
	return Resource{Type: "path", ID: clean(r.URL.EscapedPath())}
}

// paramName returns the name of the first path parameter in a route
// segment, or "" if it has none.
func paramName(seg string) string {
	if seg == "*" {
		return seg
	}
	_, name, ok := strings.Cut(seg, "{")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(name, ":}"); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimSuffix(name, "...")
	if name == "$" {
		return ""
	}
	return name
}

// clientIP returns the client's address, or "" if it is not an IP address
// (a Unix socket).
func clientIP(r *http.Request, trustedProxies int) string {
	if trustedProxies > 0 {
		if ip := forwardedFor(r.Header.Values("X-Forwarded-For"), trustedProxies); ip != "" {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return parseIP(host)
}

// forwardedFor returns the address that the outermost of hops trusted
// proxies got the request from: the hops-th entry of X-Forwarded-For from
// the right (entries further left are the client's word). If there are
// fewer entries, every one was added by a trusted proxy and the leftmost is
// the client's.
func forwardedFor(values []string, hops int) string {
	var entries []string
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			entries = append(entries, strings.TrimSpace(e))
		}
	}
	if len(entries) == 0 {
		return ""
	}
	return parseIP(entries[max(len(entries)-hops, 0)])
}

// parseIP returns s, an IP address with or without a port, in canonical
// form, or "" if it is not one.
func parseIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return ""
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap().String()
}

// requestID returns the request's X-Request-Id if it is usable as one, or
// a new UUIDv7.
func requestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); id != "" && !strings.Contains(id, " ") && printable(id, 128) {
		return id
	}
	return event.NewID()
}

// maxClientBytes bounds the text taken from a request into an event.
const maxClientBytes = 1024

// printable reports whether s is at most max bytes of printable ASCII.
func printable(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// clean returns s cut to maxClientBytes, with control characters and
// invalid UTF-8 replaced by U+FFFD: text the event schema accepts.
func clean(s string) string {
	if printable(s, maxClientBytes) {
		return s
	}
	var b strings.Builder
	for _, c := range s { // an invalid byte comes as utf8.RuneError
		if c < 0x20 || c >= 0x7f && c <= 0x9f {
			c = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(c) > maxClientBytes {
			break
		}
		b.WriteRune(c)
	}
	return b.String()
}
