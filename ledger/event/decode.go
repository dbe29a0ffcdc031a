package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is a rejected request: Status is the HTTP status it maps to (400 for
// bad input, 413 for a batch or event over Limits), Details the problems
// found, each naming the event and the field.
type Error struct {
	// Status is http.StatusBadRequest or http.StatusRequestEntityTooLarge.
	Status int
	// Message says what was wrong with the request as a whole.
	Message string
	// Details lists the problems, at most 100, in input order.
	Details []FieldError
}

// Error returns the message and the first problem.
func (e *Error) Error() string {
	switch len(e.Details) {
	case 0:
		return e.Message
	case 1:
		return e.Message + ": " + e.Details[0].String()
	}
	return fmt.Sprintf("%s: %s (and %d more)", e.Message, e.Details[0], len(e.Details)-1)
}

// FieldError is one problem with one event.
type FieldError struct {
	// Index is the event's position in the batch, from 0.
	Index int `json:"index"`
	// Field is the dotted JSON path of the member at fault, e.g. "actor.type"
	// or "changes.email.new"; empty when the problem is the event as a whole.
	Field string `json:"field,omitempty"`
	// Message says what is wrong, e.g. `must be one of success, failure,
	// denied (got "ok")`.
	Message string `json:"message"`
}

// String formats the problem as "event 3: actor.type: must be ...".
func (f FieldError) String() string {
	if f.Field == "" {
		return fmt.Sprintf("event %d: %s", f.Index, f.Message)
	}
	return fmt.Sprintf("event %d: %s: %s", f.Index, f.Field, f.Message)
}

// maxDetails bounds FieldErrors per request: past it decoding stops.
const maxDetails = 100

// errStop ends decoding: the reason is the last FieldError recorded.
var errStop = errors.New("stop decoding")

// DecodeBatch decodes the body of POST /v1/events: a JSON object (single is
// true), a JSON array of objects, or NDJSON: objects separated by newlines,
// blank lines allowed. NDJSON is expected when contentType is
// application/x-ndjson (or application/ndjson), and recognised without it
// when a body holds more than one object.
//
// Decoding is strict: member names match exactly (case-sensitive), unknown
// or duplicate members are rejected at every level, strings must be valid
// UTF-8, and nothing may follow the batch. JSON null is taken as absent for
// fields (not for tag values), and so are empty changes and tags ({}).
// Change values are stored in canonical form.
// Decoding does not apply the schema: callers run Normalize and Validate.
// The events' strings share one copy of body, except ID, which callers may
// keep for long (as an idempotency key).
//
// The error is an *Error: 413 when the batch has more than lim.MaxBatch
// events or an event is over lim.MaxEventBytes, 400 otherwise, with every
// problem found (decoding goes on past a bad field, not past bad JSON).
func DecodeBatch(body []byte, contentType string, lim Limits) (events []*Event, single bool, err error) {
	// The events' strings are cut from one copy of the body.
	d := decoder{p: parser{src: body, s: string(body)}, lim: lim.withDefaults()}
	ndjson := isNDJSON(contentType)
	d.p.skipWS()
	switch {
	case d.p.pos == len(body):
		return nil, false, &Error{Status: http.StatusBadRequest, Message: "empty body: expected a JSON object, a JSON array or NDJSON"}
	case body[d.p.pos] == '[' && ndjson:
		return nil, false, &Error{Status: http.StatusBadRequest, Message: "an NDJSON body holds one JSON object per line, not an array"}
	case body[d.p.pos] == '[':
		events, err = d.array()
	case body[d.p.pos] == '{':
		events, err = d.stream()
		single = !ndjson && len(events) == 1
	default:
		return nil, false, &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("expected a JSON object, a JSON array or NDJSON, found %s", d.p.found())}
	}
	if err != nil {
		return nil, false, err
	}
	return events, single, nil
}

func isNDJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, "application/x-ndjson") || strings.EqualFold(mt, "application/ndjson")
}

// decoder decodes events with a parser, collecting FieldErrors.
type decoder struct {
	p     parser
	lim   Limits
	index int // of the event being decoded
	errs  []FieldError
	chunk []Event // events are allocated in chunks

	leaf    bool   // decoding a leaf: "v" is expected
	version string // the leaf's "v"
}

// fail records a problem with the current event. It returns errStop once
// there are too many problems to go on.
func (d *decoder) fail(field, format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	d.errs = append(d.errs, FieldError{Index: d.index, Field: field, Message: msg})
	if len(d.errs) >= maxDetails {
		return errStop
	}
	return nil
}

// fatal records err, found at field, and stops decoding.
func (d *decoder) fatal(field string, err error) error {
	if err == errStop {
		return err
	}
	msg := err.Error()
	var se *syntaxError
	if errors.As(err, &se) {
		msg = "invalid JSON: " + msg
	}
	d.errs = append(d.errs, FieldError{Index: d.index, Field: field, Message: msg})
	return errStop
}

// result turns what was collected into DecodeBatch's error, if any.
func (d *decoder) result(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if len(d.errs) == 0 {
		return nil
	}
	return &Error{Status: http.StatusBadRequest, Message: "invalid events; nothing was appended", Details: d.errs}
}

func (d *decoder) tooLarge(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Status: http.StatusRequestEntityTooLarge, Message: msg + "; nothing was appended",
		Details: []FieldError{{Index: d.index, Message: msg}}}
}

// next decodes the event at p.pos and appends it to events.
func (d *decoder) next(events []*Event) ([]*Event, error) {
	d.index = len(events)
	if d.index >= d.lim.MaxBatch {
		return events, d.tooLarge("the batch has more than %d events", d.lim.MaxBatch)
	}
	if len(d.chunk) == cap(d.chunk) {
		// Chunks grow with the batch (1, 1, 2, 4, ... 64 events), so that
		// a single event does not pay for 64.
		d.chunk = make([]Event, 0, min(64, d.lim.MaxBatch-d.index, max(1, d.index)))
	}
	d.chunk = d.chunk[:len(d.chunk)+1]
	ev := &d.chunk[len(d.chunk)-1]
	start := d.p.pos
	if err := d.event(ev); err != nil {
		return events, err
	}
	if n := d.p.pos - start; n > d.lim.MaxEventBytes {
		return events, d.tooLarge("event %d is %d bytes; the limit is %d", d.index, n, d.lim.MaxEventBytes)
	}
	return append(events, ev), nil
}

// array decodes a JSON array of events; p.pos is at '['.
func (d *decoder) array() ([]*Event, error) {
	p := &d.p
	p.pos++
	p.skipWS()
	if p.peek() == ']' {
		return nil, &Error{Status: http.StatusBadRequest, Message: "empty batch: the array holds no events"}
	}
	var events []*Event
	for {
		var err error
		if events, err = d.next(events); err != nil {
			return nil, d.result(err)
		}
		p.skipWS()
		if p.peek() == ',' {
			p.pos++
			continue
		}
		if p.peek() != ']' {
			return nil, d.result(d.fatal("", p.errorf("expected ',' or ']' after event %d, found %s", d.index, p.found())))
		}
		p.pos++
		break
	}
	p.skipWS()
	if p.pos != len(p.src) {
		return nil, d.result(d.fatal("", p.errorf("unexpected data after the array")))
	}
	return events, d.result(nil)
}

// stream decodes one object or NDJSON; p.pos is at '{'.
func (d *decoder) stream() ([]*Event, error) {
	p := &d.p
	var events []*Event
	for {
		var err error
		if events, err = d.next(events); err != nil {
			return nil, d.result(err)
		}
		newline := false
		for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
			newline = newline || p.src[p.pos] == '\n'
			p.pos++
		}
		switch {
		case p.pos == len(p.src):
			return events, d.result(nil)
		case !newline:
			return nil, d.result(d.fatal("", p.errorf("unexpected data after event %d (NDJSON has one event per line)", d.index)))
		case p.peek() != '{':
			d.index++
			return nil, d.result(d.fatal("", p.errorf("expected a JSON object, found %s", p.found())))
		}
	}
}

// Field numbers of Event members, in leaf order.
const (
	fID = iota
	fTimestamp
	fTenantID
	fEventType
	fAction
	fActor
	fResource
	fResult
	fFailureReason
	fSource
	fIPAddress
	fUserAgent
	fSessionID
	fCorrelationID
	fRequestID
	fReason
	fChanges
	fTags
	fVersion // "v", leaves only
	fSealed  // reserved, leaves only
)

func fieldOf(name []byte) int {
	switch string(name) {
	case "id":
		return fID
	case "timestamp":
		return fTimestamp
	case "tenant_id":
		return fTenantID
	case "event_type":
		return fEventType
	case "action":
		return fAction
	case "actor":
		return fActor
	case "resource":
		return fResource
	case "result":
		return fResult
	case "failure_reason":
		return fFailureReason
	case "source":
		return fSource
	case "ip_address":
		return fIPAddress
	case "user_agent":
		return fUserAgent
	case "session_id":
		return fSessionID
	case "correlation_id":
		return fCorrelationID
	case "request_id":
		return fRequestID
	case "reason":
		return fReason
	case "changes":
		return fChanges
	case "tags":
		return fTags
	case "v":
		return fVersion
	case "sealed":
		return fSealed
	}
	return -1
}

// stringField returns the string member numbered f, or nil.
func (e *Event) stringField(f int) *string {
	switch f {
	case fID:
		return &e.ID
	case fTenantID:
		return &e.TenantID
	case fEventType:
		return &e.EventType
	case fAction:
		return &e.Action
	case fResult:
		return &e.Result
	case fFailureReason:
		return &e.FailureReason
	case fSource:
		return &e.Source
	case fIPAddress:
		return &e.IPAddress
	case fUserAgent:
		return &e.UserAgent
	case fSessionID:
		return &e.SessionID
	case fCorrelationID:
		return &e.CorrelationID
	case fRequestID:
		return &e.RequestID
	case fReason:
		return &e.Reason
	}
	return nil
}

// members calls member for each member of the object at p.pos, with its
// name; member must consume the value. The object's own problems are
// reported at field.
func (d *decoder) members(field string, member func(name []byte) error) error {
	p := &d.p
	p.pos++ // '{'
	p.skipWS()
	if p.peek() == '}' {
		p.pos++
		return nil
	}
	for {
		p.skipWS()
		if p.peek() != '"' {
			return d.fatal(field, p.errorf("expected a member name, found %s", p.found()))
		}
		name, err := p.key()
		if err != nil {
			return d.fatal(field, err)
		}
		if err := p.expect(':'); err != nil {
			return d.fatal(field, err)
		}
		p.skipWS()
		if err := member(name); err != nil {
			return err
		}
		p.skipWS()
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return nil
		default:
			return d.fatal(field, p.errorf("expected ',' or '}', found %s", p.found()))
		}
	}
}

// skip consumes a value that is not kept, after reporting why.
func (d *decoder) skip(field string, report error) error {
	if report != nil {
		return report
	}
	var err error
	if d.p.discard, err = d.p.value(d.p.discard[:0]); err != nil {
		return d.fatal(field, err)
	}
	return nil
}

func join(prefix string, name []byte) string {
	if prefix == "" {
		return string(name)
	}
	return prefix + "." + string(name)
}

// event decodes the object at p.pos (after optional whitespace) into ev.
func (d *decoder) event(ev *Event) error {
	p := &d.p
	p.skipWS()
	if p.peek() != '{' {
		if p.pos == len(p.src) {
			return d.fatal("", p.errorf("expected an event, found end of input"))
		}
		switch p.peek() {
		case '"', '[', 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return d.skip("", d.fail("", "an event must be a JSON object (got %s)", p.kind()))
		}
		return d.fatal("", p.errorf("expected an event, found %s", p.found()))
	}
	var seen uint32
	return d.members("", func(name []byte) error {
		f := fieldOf(name)
		switch {
		case f < 0 || !d.leaf && f >= fVersion:
			if g := fieldOf(bytes.ToLower(name)); g >= 0 && g < fVersion {
				return d.skip(string(name), d.fail(string(name), "unknown field (names are case-sensitive: did you mean %q?)", bytes.ToLower(name)))
			}
			return d.skip(string(name), d.fail(string(name), "unknown field"))
		case seen&(1<<f) != 0:
			return d.skip(string(name), d.fail(string(name), "duplicate field"))
		}
		seen |= 1 << f
		if s := ev.stringField(f); s != nil {
			err := d.string(s, "", name)
			if f == fID {
				// The ledger keeps ids as idempotency keys for as long as it
				// runs: one must not hold on to the whole body.
				*s = strings.Clone(*s)
			}
			return err
		}
		switch f {
		case fTimestamp:
			return d.timestamp(ev)
		case fActor:
			return d.strings("actor", []string{"id", "type", "email", "role"}, &ev.Actor.ID, &ev.Actor.Type, &ev.Actor.Email, &ev.Actor.Role)
		case fResource:
			return d.strings("resource", []string{"type", "id"}, &ev.Resource.Type, &ev.Resource.ID)
		case fChanges:
			return d.changes(ev)
		case fTags:
			return d.tags(ev)
		case fVersion:
			n, err := p.number()
			if err != nil {
				return d.fatal("v", err)
			}
			d.version = string(n)
			return nil
		default: // fSealed
			return d.fatal("sealed", errors.New("sealed leaves are not supported by this version"))
		}
	})
}

// string decodes a string or null into s. Its field is prefix.name.
func (d *decoder) string(s *string, prefix string, name []byte) error {
	switch d.p.peek() {
	case '"':
		v, err := d.p.str()
		if err != nil {
			return d.fatal(join(prefix, name), err)
		}
		*s = v
		return nil
	case 'n':
		if _, err := d.p.isNull(); err != nil {
			return d.fatal(join(prefix, name), err)
		}
		return nil
	}
	field := join(prefix, name)
	return d.skip(field, d.fail(field, "must be a string (got %s)", d.p.kind()))
}

// strings decodes an object of string members with the given names.
func (d *decoder) strings(field string, names []string, dst ...*string) error {
	if ok, err := d.object(field); !ok || err != nil {
		return err
	}
	var seen uint32
	return d.members(field, func(name []byte) error {
		for i, n := range names {
			if n != string(name) {
				continue
			}
			if seen&(1<<i) != 0 {
				return d.skip(join(field, name), d.fail(join(field, name), "duplicate field"))
			}
			seen |= 1 << i
			return d.string(dst[i], field, name)
		}
		return d.skip(join(field, name), d.fail(join(field, name), "unknown field (%s has %s)", field, strings.Join(names, ", ")))
	})
}

// object reports whether an object is next; null is consumed and anything
// else reported and skipped.
func (d *decoder) object(field string) (bool, error) {
	switch d.p.peek() {
	case '{':
		return true, nil
	case 'n':
		_, err := d.p.isNull()
		if err != nil {
			return false, d.fatal(field, err)
		}
		return false, nil
	}
	return false, d.skip(field, d.fail(field, "must be an object (got %s)", d.p.kind()))
}

func (d *decoder) timestamp(ev *Event) error {
	if ok, err := d.p.isNull(); ok || err != nil {
		if err != nil {
			return d.fatal("timestamp", err)
		}
		return nil
	}
	if d.p.peek() != '"' {
		return d.skip("timestamp", d.fail("timestamp", "must be an RFC 3339 date-time string (got %s)", d.p.kind()))
	}
	b, err := d.p.key()
	if err != nil {
		return d.fatal("timestamp", err)
	}
	// Go's parser also takes ',' before the fraction, as ISO 8601 does;
	// RFC 3339 does not.
	if err := ev.Timestamp.UnmarshalText(b); err != nil || bytes.IndexByte(b, ',') >= 0 {
		return d.fail("timestamp", "must be an RFC 3339 date-time such as \"2024-05-01T12:30:00Z\" (got %s)", quote(string(b)))
	}
	return nil
}

func (d *decoder) changes(ev *Event) error {
	if ok, err := d.object("changes"); !ok || err != nil {
		return err
	}
	ev.Changes = make(map[string]Change)
	err := d.members("changes", func(name []byte) error {
		key := d.p.keyString(name)
		if _, dup := ev.Changes[key]; dup {
			return d.skip(join("changes", name), d.fail(join("changes", name), "duplicate field"))
		}
		if d.p.peek() != '{' {
			field := join("changes", name)
			return d.skip(field, d.fail(field, "must be an object with old and/or new (got %s)", d.p.kind()))
		}
		var c Change
		var seen [2]bool
		err := d.members(join("changes", name), func(m []byte) error {
			var i int
			var dst *json.RawMessage
			switch string(m) {
			case "old":
				i, dst = 0, &c.Old
			case "new":
				i, dst = 1, &c.New
			default:
				field := "changes." + key + "." + string(m)
				return d.skip(field, d.fail(field, "unknown field (a change has old and new)"))
			}
			if seen[i] {
				field := "changes." + key + "." + string(m)
				return d.skip(field, d.fail(field, "duplicate field"))
			}
			seen[i] = true
			v, err := d.p.value(d.p.discard[:0])
			d.p.discard = v
			if err != nil {
				return d.fatal("changes."+key+"."+string(m), err)
			}
			*dst = append(json.RawMessage(nil), v...)
			return nil
		})
		ev.Changes[key] = c
		return err
	})
	if len(ev.Changes) == 0 {
		ev.Changes = nil // {} is absent, as in a leaf
	}
	return err
}

func (d *decoder) tags(ev *Event) error {
	if ok, err := d.object("tags"); !ok || err != nil {
		return err
	}
	ev.Tags = make(map[string]string)
	err := d.members("tags", func(name []byte) error {
		key := d.p.keyString(name)
		if _, dup := ev.Tags[key]; dup {
			return d.skip("tags."+key, d.fail("tags."+key, "duplicate field"))
		}
		if d.p.peek() != '"' {
			return d.skip("tags."+key, d.fail("tags."+key, "must be a string (got %s)", d.p.kind()))
		}
		v, err := d.p.str()
		if err != nil {
			return d.fatal("tags."+key, err)
		}
		ev.Tags[key] = v
		return nil
	})
	if len(ev.Tags) == 0 {
		ev.Tags = nil // {} is absent, as in a leaf
	}
	return err
}

// UnmarshalJSON decodes one event as strictly as DecodeBatch does (without
// its size limits). The error is an *Error.
func (e *Event) UnmarshalJSON(b []byte) error {
	d := decoder{p: parser{src: b}, lim: DefaultLimits()}
	var ev Event
	err := d.event(&ev)
	if err == nil {
		d.p.skipWS()
		if d.p.pos != len(b) {
			err = d.fatal("", d.p.errorf("unexpected data after the event"))
		}
	}
	if err := d.result(err); err != nil {
		return err
	}
	*e = ev
	return nil
}

// quote quotes s for a message, shortened to about 64 bytes.
func quote(s string) string {
	if len(s) > 64 {
		cut := 64
		for cut > 0 && s[cut]&0xc0 == 0x80 {
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
