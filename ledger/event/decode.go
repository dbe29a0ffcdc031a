package event

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// maxDetails bounds FieldErrors per request: past it decoding stops.
const maxDetails = 100

// errStop ends decoding: the reason is the last FieldError recorded.
var errStop = errors.New("stop decoding")

// decoder decodes events with a parser, collecting FieldErrors. This file
// holds the strict decoding of one event object: its members, unknown and
// duplicate names, and the problems found. batch.go frames events into a
// batch (an object, an array or NDJSON), fields.go decodes member values.
type decoder struct {
	p     parser
	lim   Limits
	index int // of the event being decoded
	errs  []FieldError
	chunk []Event // events are allocated in chunks

	leaf    bool   // decoding a leaf: "v" is expected
	stamps  bool   // received_at and submitter are accepted (a leaf, or an event the API shows)
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

// result turns what was collected into decodeBatch's error, if any.
func (d *decoder) result(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if len(d.errs) == 0 {
		return nil
	}
	return &Error{Kind: ErrInvalid, Message: "invalid events; nothing was appended", Details: d.errs}
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
	fVersion    // "v", leaves only
	fSealed     // leaves of version 3 only, and events as the API shows them: set by the ledger
	fReceivedAt // leaves of version 2 only: set by the ledger
	fSubmitter  // leaves of version 2 only: set by the ledger
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
	case "received_at":
		return fReceivedAt
	case "submitter":
		return fSubmitter
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
		case !d.stamps && (f >= fReceivedAt || f == fSealed):
			return d.skip(string(name), d.fail(string(name), "is set by the ledger when it accepts the event, never by a client; leave it out"))
		case f < 0 || !d.leaf && f == fVersion:
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
			return d.timestamp("timestamp", &ev.Timestamp)
		case fReceivedAt:
			return d.timestamp("received_at", &ev.ReceivedAt)
		case fSubmitter:
			return d.strings("submitter", []string{"type", "token_id", "role", "tenant_id"},
				&ev.Submitter.Type, &ev.Submitter.TokenID, &ev.Submitter.Role, &ev.Submitter.TenantID)
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
			ev.Sealed = new(Sealed)
			return d.sealed(ev.Sealed)
		}
	})
}

// UnmarshalJSON decodes one event as strictly as Pipeline.Prepare does
// (see Submission.Body), without its size limits, and with the members
// only the ledger sets (received_at, submitter), as the API shows them.
// The error is an *Error.
func (e *Event) UnmarshalJSON(b []byte) error {
	d := decoder{p: parser{src: b}, lim: DefaultLimits(), stamps: true}
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
