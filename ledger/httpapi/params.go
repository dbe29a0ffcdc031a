package httpapi

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/index"
)

// Bounds of the query API.
const (
	// DefaultWindow is the time window of a query that gives neither since
	// nor until: the last 30 days.
	DefaultWindow = 30 * 24 * time.Hour
	// MaxQueryWindow bounds the window of GET /v1/events and the reports.
	MaxQueryWindow = 366 * 24 * time.Hour
	// DefaultLimit and MaxLimit bound a page of rows.
	DefaultLimit, MaxLimit = 100, 1000
	// maxParamBytes bounds a filter value, like an event's string fields.
	maxParamBytes = 4096
)

// filterParams are the parameters that select rows, in the order problems
// are reported.
var filterParams = []string{"actor_id", "actor_type", "action", "event_type", "resource_type", "resource_id", "result", "tenant_id",
	"submitter_token_id", "since", "until", "time"}

// timeParams are the values of the time parameter: the time that since and
// until bound and that rows are ordered by.
var timeParams = map[string]index.TimeColumn{"timestamp": index.ByTimestamp, "received": index.ByReceived}

// params reads and checks query parameters, collecting every problem so
// that one 400 names all of them.
type params struct {
	q        url.Values
	problems []event.FieldError
}

// newParams refuses parameters outside allowed and repeated parameters.
func newParams(q url.Values, allowed ...string) *params {
	p := &params{q: q}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		switch {
		case name == "":
			p.fail("(empty name)", "a parameter has no name")
		case !slices.Contains(allowed, name):
			p.fail(name, "is not a parameter of this endpoint")
		case len(q[name]) > 1:
			p.fail(name, "is given more than once")
		}
	}
	return p
}

func (p *params) fail(name, format string, args ...any) {
	p.problems = append(p.problems, event.FieldError{Field: name, Message: fmt.Sprintf(format, args...)})
}

// err returns the 400 for the problems found, or nil.
func (p *params) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	return &paramError{problems: p.problems}
}

// paramError is a 400 naming every bad parameter: writeError lists the
// problems as details, with the parameter as field, and its message reads
// "parameter: problem" rather than an event's "event N: field: ...".
type paramError struct{ problems []event.FieldError }

func (e *paramError) Error() string {
	msgs := make([]string, len(e.problems))
	for i, fe := range e.problems {
		msgs[i] = fe.Field + ": " + fe.Message
	}
	return "invalid query parameters: " + strings.Join(msgs, "; ")
}

// Unwrap makes a paramError a bad request.
func (e *paramError) Unwrap() error { return errBadRequest }

// str returns a string parameter, "" when absent.
func (p *params) str(name string) string {
	v := p.q.Get(name)
	_, given := p.q[name]
	switch {
	case given && v == "":
		p.fail(name, "is empty; leave it out to match any value")
	case len(v) > maxParamBytes:
		p.fail(name, "is %d bytes, more than %d", len(v), maxParamBytes)
	case !utf8.ValidString(v):
		p.fail(name, "is not valid UTF-8")
	default:
		return v
	}
	return ""
}

// enum returns a parameter that must be one of values, "" when absent.
func (p *params) enum(name string, values []string) string {
	v := p.str(name)
	if v != "" && !slices.Contains(values, v) {
		p.fail(name, "must be one of %v (got %q)", values, v)
		return ""
	}
	return v
}

// number returns a decimal parameter in [lo, hi], def when absent.
func (p *params) number(name string, def, lo, hi int) int {
	v, ok := p.q[name]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < lo || n > hi {
		p.fail(name, "must be a whole number from %d to %d (got %q)", lo, hi, v[0])
		return def
	}
	return n
}

// boolean returns a parameter that is "true" or "false", false when absent.
func (p *params) boolean(name string) bool {
	switch v := p.q.Get(name); v {
	case "", "false":
		return false
	case "true":
		return true
	default:
		p.fail(name, `must be "true" or "false" (got %q)`, v)
		return false
	}
}

// instant returns an RFC 3339 timestamp parameter, zero when absent.
func (p *params) instant(name string) time.Time {
	v, ok := p.q[name]
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v[0])
	if err != nil {
		p.fail(name, "must be an RFC 3339 timestamp such as 2026-01-31T23:59:59Z (got %q)", v[0])
		return time.Time{}
	}
	return t.UTC()
}

// filter reads the filter parameters. The window is [since, until): until
// defaults to now and since to DefaultWindow before until; when maxWindow
// is not 0 the window may not be longer.
func (p *params) filter(now time.Time, maxWindow time.Duration) index.Filter {
	f := index.Filter{
		ActorID: p.str("actor_id"), ActorType: p.enum("actor_type", event.ActorTypes), Action: p.str("action"),
		EventType: p.str("event_type"), ResourceType: p.str("resource_type"), ResourceID: p.str("resource_id"),
		Result: p.enum("result", event.Results), TenantID: p.str("tenant_id"), SubmitterTokenID: p.str("submitter_token_id"),
		Since: p.instant("since"), Until: p.instant("until"),
		By: timeParams[p.enum("time", slices.Sorted(maps.Keys(timeParams)))],
	}
	if f.Until.IsZero() {
		f.Until = now.UTC()
	}
	if f.Since.IsZero() {
		f.Since = f.Until.Add(-DefaultWindow)
	}
	switch {
	case !f.Since.Before(f.Until):
		p.fail("until", "must be after since (%s)", f.Since.Format(time.RFC3339Nano))
	case maxWindow > 0 && f.Until.Sub(f.Since) > maxWindow:
		p.fail("since", "is more than %d days before until; ask for a shorter window", int(maxWindow.Hours()/24))
	}
	return f
}

// cursorSize is the size of a decoded cursor: the row's timestamp in
// microseconds and its index, both big-endian.
const cursorSize = 16

// encodeCursor returns the opaque text of a keyset cursor.
func encodeCursor(c index.Cursor) string {
	var b [cursorSize]byte
	binary.BigEndian.PutUint64(b[:8], uint64(c.Time.UnixMicro()))
	binary.BigEndian.PutUint64(b[8:], c.Index)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// cursor returns the cursor parameter, nil when absent.
func (p *params) cursor() *index.Cursor {
	v, ok := p.q["cursor"]
	if !ok {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v[0])
	if err != nil || len(b) != cursorSize || base64.RawURLEncoding.EncodeToString(b) != v[0] {
		p.fail("cursor", "is not a cursor returned by this API as next_cursor")
		return nil
	}
	return &index.Cursor{Time: time.UnixMicro(int64(binary.BigEndian.Uint64(b[:8]))).UTC(), Index: binary.BigEndian.Uint64(b[8:])}
}
