package httpapi

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ledger-dev/ledger/ledger/event"
)

// Event types of audited reads and administration.
const (
	// AccessedEventType is the event appended for every query, report,
	// event or proof read and export, and for every refused request of a
	// valid token.
	AccessedEventType = "audit.accessed"
	// ExportCompletedEventType is appended when an export finished
	// streaming, with the count of rows sent.
	ExportCompletedEventType = "audit.export_completed"
)

// accessRecord describes one audited request.
type accessRecord struct {
	id           string // the event's id; default a new one
	eventType    string // default AccessedEventType
	action       string // read, export, create, delete
	resourceType string // default "audit_log"
	resourceID   string // default the route
	result       string // default success
	reason       string // why it was denied
	count        *int   // rows or entries returned
	tags         map[string]string
	params       []string // query parameters whose values are recorded, beyond loggedParams
}

// recordAccess appends the audit event of a request by a token and waits
// until it is durable. With access control off there is no token to name,
// and nothing is appended. Callers send their answer only once it returned
// nil: a read that could not be logged is not answered.
func (s *Server) recordAccess(r *http.Request, a accessRecord) error {
	p := CallerOf(r)
	if !s.authEnabled() || p == nil {
		return nil
	}
	route := r.URL.Path
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		route = rc.RoutePattern()
	}
	ev := &event.Event{
		ID:        a.id,
		EventType: cmp.Or(a.eventType, AccessedEventType),
		Action:    a.action,
		TenantID:  p.Tenant,
		Actor:     event.Actor{ID: "token:" + p.ID, Type: "api_client", Role: string(p.Role)},
		Resource:  event.Resource{Type: cmp.Or(a.resourceType, "audit_log"), ID: cmp.Or(a.resourceID, route)},
		Result:    cmp.Or(a.result, "success"),
		Source:    "api",
		RequestID: requestIDOf(r),
		UserAgent: s.clip(r.UserAgent()),
		Tags:      map[string]string{"endpoint": r.Method + " " + route},
	}
	if a.reason != "" {
		ev.FailureReason = s.clip(a.reason)
	}
	if p.Name != "" {
		ev.Tags["token_name"] = s.clip(p.Name)
	}
	if r.URL.RawQuery != "" {
		ev.Tags["query"] = s.clip(queryTag(r.URL.Query(), a.params))
	}
	if a.count != nil {
		ev.Tags["count"] = strconv.Itoa(*a.count)
	}
	for k, v := range a.tags {
		ev.Tags[k] = s.clip(v)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ev.IPAddress = host
	}
	entries, err := s.prepare([]*event.Event{ev})
	if err != nil {
		return fmt.Errorf("couldn't build the access event: %w", err)
	}
	if _, err := s.cfg.Ledger.Append(r.Context(), entries); err != nil {
		return fmt.Errorf("couldn't log this access, so it is not answered: %w", err)
	}
	return nil
}

// clip shortens s to the longest field an event may hold.
func (s *Server) clip(v string) string {
	n := s.cfg.Limits.MaxFieldBytes
	if n <= 0 {
		n = event.DefaultLimits().MaxFieldBytes
	}
	if len(v) > n {
		for n > 0 && v[n]&0xC0 == 0x80 { // don't cut a UTF-8 sequence
			n--
		}
		return v[:n]
	}
	return v
}

// loggedParams are the query parameters whose values the access event
// keeps: the API's own, which select rows and shape answers and name no
// secret. A cursor is opaque, and it and every other value (a misplaced
// ?api_key=, say: the request is refused, but a denied request is logged
// too) is replaced with event.Redacted, so that no secret sent in a query
// string reaches the log, where nothing can be removed.
var loggedParams = append(slices.Clone(filterParams), "limit", "proof", "format", "threshold", "wait")

// queryTag returns the query string an access event records: every
// parameter's name, sorted, with its value only if it is one of
// loggedParams or of extra.
func queryTag(q url.Values, extra []string) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[name] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(name))
			b.WriteByte('=')
			if slices.Contains(loggedParams, name) || slices.Contains(extra, name) {
				b.WriteString(url.QueryEscape(v))
			} else {
				b.WriteString(event.Redacted)
			}
		}
	}
	return b.String()
}
