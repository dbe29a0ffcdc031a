package event

import (
	"bytes"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// MaxLeafBytes is the largest leaf: an entry bundle stores an entry's length
// in two bytes (tiles.MaxEntrySize).
const MaxLeafBytes = 1<<16 - 1

// ErrLeafTooLarge is returned by Leaf for an event whose leaf would be over
// MaxLeafBytes.
var ErrLeafTooLarge = errors.New("leaf is over 65535 bytes")

// Leaf returns the leaf bytes of e: its deterministic JSON encoding, the
// bytes that are hashed into the log, stored in entry bundles and returned
// in receipts. The same event always yields the same bytes. The format is
// described in the package documentation.
//
// Leaf fails for a string that is not valid UTF-8, a change value that is
// not JSON, a timestamp outside years 0000-9999, or a leaf over
// MaxLeafBytes (ErrLeafTooLarge). It does not apply the schema: a Pipeline
// encodes events only after Normalize, Validate and Redact.
func (e *Event) Leaf() ([]byte, error) {
	return e.AppendLeaf(make([]byte, 0, 512))
}

// AppendLeaf appends the leaf bytes of e to dst (see Leaf).
func (e *Event) AppendLeaf(dst []byte) ([]byte, error) {
	start := len(dst)
	v2 := e.stamped()
	if v2 {
		if e.ReceivedAt.IsZero() {
			return dst, errors.New("a leaf with a submitter needs received_at")
		}
		if err := e.Submitter.check(); err != nil {
			return dst, err
		}
	}
	if e.Sealed != nil && !v2 {
		return dst, errors.New("a sealed leaf needs received_at and submitter")
	}
	w := leafWriter{b: append(dst, `{"v":1`...)}
	w.b[len(w.b)-1] = byte('0' + e.Version())
	w.members(e)
	if v2 {
		w.time(`,"received_at":"`, e.ReceivedAt)
		w.open(`,"submitter":{`)
		w.str(`,"type":`, e.Submitter.Type)
		w.str(`,"token_id":`, e.Submitter.TokenID)
		w.str(`,"role":`, e.Submitter.Role)
		w.str(`,"tenant_id":`, e.Submitter.TenantID)
		w.close()
	}
	if e.Sealed != nil {
		w.sealed(e.Sealed)
	}
	w.b = append(w.b, '}')
	if w.err != nil {
		return dst, w.err
	}
	if n := len(w.b) - start; n > MaxLeafBytes {
		return dst, fmt.Errorf("%w: it would be %d bytes", ErrLeafTooLarge, n)
	}
	return w.b, nil
}

// members appends the members an event's submitter may set, each with a
// leading comma, in leaf order.
func (w *leafWriter) members(e *Event) {
	w.str(`,"id":`, e.ID)
	w.time(`,"timestamp":"`, e.Timestamp)
	w.str(`,"tenant_id":`, e.TenantID)
	w.str(`,"event_type":`, e.EventType)
	w.str(`,"action":`, e.Action)
	if e.Actor != (Actor{}) {
		w.open(`,"actor":{`)
		w.str(`,"id":`, e.Actor.ID)
		w.str(`,"type":`, e.Actor.Type)
		w.str(`,"email":`, e.Actor.Email)
		w.str(`,"role":`, e.Actor.Role)
		w.close()
	}
	if e.Resource != (Resource{}) {
		w.open(`,"resource":{`)
		w.str(`,"type":`, e.Resource.Type)
		w.str(`,"id":`, e.Resource.ID)
		w.close()
	}
	w.str(`,"result":`, e.Result)
	w.str(`,"failure_reason":`, e.FailureReason)
	w.str(`,"source":`, e.Source)
	w.str(`,"ip_address":`, e.IPAddress)
	w.str(`,"user_agent":`, e.UserAgent)
	w.str(`,"session_id":`, e.SessionID)
	w.str(`,"correlation_id":`, e.CorrelationID)
	w.str(`,"request_id":`, e.RequestID)
	w.str(`,"reason":`, e.Reason)
	if len(e.Changes) > 0 {
		w.b = append(w.b, `,"changes":{`...)
		p := getParser()
		var buf [16]string
		for i, name := range sortedKeys(buf[:0], e.Changes) {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.name(name)
			c := e.Changes[name]
			w.open("{")
			w.value(p, `,"old":`, name, c.Old)
			w.value(p, `,"new":`, name, c.New)
			w.close()
		}
		putParser(p)
		w.b = append(w.b, '}')
	}
	if len(e.Tags) > 0 {
		w.b = append(w.b, `,"tags":{`...)
		var buf [16]string
		for i, k := range sortedKeys(buf[:0], e.Tags) {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.name(k)
			w.str("", e.Tags[k])
		}
		w.b = append(w.b, '}')
	}
}

// stamped reports whether e holds what only the ledger states (ReceivedAt,
// Submitter): its leaf is of version 2.
func (e *Event) stamped() bool {
	return !e.ReceivedAt.IsZero() || e.Submitter != (Submitter{})
}

// Version returns the version of e's leaf: 3 when it has sealed members, 2
// when it holds what the ledger states (ReceivedAt, Submitter), else 1.
func (e *Event) Version() int {
	if e.Sealed != nil {
		return 3
	}
	if e.stamped() {
		return 2
	}
	return 1
}

// leafWriter appends members, keeping the first error.
type leafWriter struct {
	b   []byte
	err error
	// open is where the last object opened by open began: its first member
	// must not have the leading comma every member is written with.
	open0 int
}

// open starts an object whose members are written with leading commas.
func (w *leafWriter) open(prefix string) {
	w.b = append(w.b, prefix...)
	w.open0 = len(w.b)
}

// close ends the object started by open.
func (w *leafWriter) close() {
	w.b = append(w.b, '}')
	w.open0 = 0
}

// fix drops the leading comma of the first member after open.
func (w *leafWriter) fix() {
	if w.open0 > 0 && w.open0 < len(w.b) && w.b[w.open0] == ',' {
		w.b = append(w.b[:w.open0], w.b[w.open0+1:]...)
	}
	w.open0 = 0
}

// str appends prefix and the quoted string s, unless s is empty and there
// is a prefix.
func (w *leafWriter) str(prefix, s string) {
	if s == "" && prefix != "" {
		return
	}
	w.b = append(w.b, prefix...)
	w.fix()
	start := len(w.b)
	var ascii bool
	if w.b, ascii = appendQuotedASCII(w.b, s); !ascii && !utf8.Valid(w.b[start:]) {
		w.fail(fmt.Errorf("%q is not valid UTF-8", s))
	}
}

// time appends prefix (which ends at the opening quote) and t in UTC as
// RFC 3339 with as many fractional digits as needed, unless t is zero.
func (w *leafWriter) time(prefix string, t time.Time) {
	if t.IsZero() {
		return
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		w.fail(fmt.Errorf("%s year %d is outside RFC 3339", prefix[2:len(prefix)-3], y))
		return
	}
	w.b = append(w.b, prefix...)
	w.b = append(t.AppendFormat(w.b, time.RFC3339Nano), '"')
}

// name appends an object member name and its colon.
func (w *leafWriter) name(s string) {
	w.str("", s)
	w.b = append(w.b, ':')
}

// value appends prefix and the canonical form of the JSON value v, unless v
// is nil. name is the change's name, for errors.
func (w *leafWriter) value(p *parser, prefix, name string, v []byte) {
	if v == nil {
		return
	}
	w.b = append(w.b, prefix...)
	w.fix()
	p.reset(v)
	var err error
	if w.b, err = p.whole(w.b); err != nil {
		w.fail(fmt.Errorf("changes.%s.%s is not JSON: %w", name, prefix[2:5], err))
	}
}

func (w *leafWriter) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// ParseLeaf decodes a leaf written by Leaf, of any version. It is the strict
// inverse of Leaf: it requires "v":1, "v":2 or "v":3 and accepts only bytes that
// Leaf would have written for the event it returns, so Leaf of the result is
// the input. A version 1 leaf gives an event without ReceivedAt and
// Submitter.
func ParseLeaf(leaf []byte) (*Event, error) {
	d := decoder{p: parser{src: leaf}, lim: DefaultLimits(), leaf: true, stamps: true}
	var ev Event
	err := d.event(&ev)
	if err == nil && d.p.pos != len(leaf) {
		err = d.fatal("", d.p.errorf("unexpected data after the leaf"))
	}
	if err != nil || len(d.errs) > 0 {
		fe := d.errs[0]
		if fe.Field != "" {
			return nil, fmt.Errorf("invalid leaf: %s: %s", fe.Field, fe.Message)
		}
		return nil, fmt.Errorf("invalid leaf: %s", fe.Message)
	}
	switch d.version {
	case "1", "2", "3":
	case "":
		return nil, errors.New(`invalid leaf: no "v" member`)
	default:
		return nil, fmt.Errorf("unsupported leaf version %s", d.version)
	}
	if d.version == "2" && !ev.stamped() {
		return nil, errors.New("invalid leaf: version 2 without received_at and submitter")
	}
	if d.version == "3" && ev.Sealed == nil {
		return nil, errors.New(`invalid leaf: version 3 without a "sealed" member`)
	}
	if d.version != "3" && ev.Sealed != nil {
		return nil, fmt.Errorf(`invalid leaf: a "sealed" member is in leaves of version 3 only, this is version %s`, d.version)
	}
	out, err := ev.AppendLeaf(make([]byte, 0, len(leaf)))
	if err != nil {
		return nil, fmt.Errorf("invalid leaf: %w", err)
	}
	if !bytes.Equal(out, leaf) {
		return nil, errors.New("invalid leaf: not in canonical form")
	}
	return &ev, nil
}

// Key returns the idempotency key of an event with this tenant and id: ""
// for an event without an id, else the id, prefixed with the tenant and a
// NUL byte (which neither may contain) when there is a tenant. Keys are per
// tenant, so that two tenants choosing the same id (say "order-7") each get
// their event logged.
func Key(tenantID, id string) string {
	if id == "" || tenantID == "" {
		return id
	}
	return tenantID + "\x00" + id
}

// KeyOf returns the idempotency key (see Key) of a leaf written by Leaf. It
// serves as ledger.Config.KeyOf, which runs on every leaf of the log at
// start, so for the usual leaf, which begins
// {"v":N,"id":"...","timestamp":"...","tenant_id":"...", it reads no
// further than the tenant.
func KeyOf(leaf []byte) (string, error) {
	prefix := `{"v":1,"id":"`
	if len(leaf) > 6 && bytes.HasPrefix(leaf, []byte(`{"v":`)) && (leaf[5] == '2' || leaf[5] == '3') {
		prefix = `{"v":` + string(leaf[5]) + `,"id":"`
	}
	if id, rest, ok := cutString(leaf, prefix); ok {
		if _, after, ok := cutString(rest, `,"timestamp":"`); ok {
			rest = after
		}
		if tenant, _, ok := cutString(rest, `,"tenant_id":"`); ok {
			return Key(tenant, id), nil
		}
		if !bytes.HasPrefix(rest, []byte(`,"tenant_id":`)) {
			return id, nil // members are in a fixed order: no tenant
		}
	}
	ev, err := ParseLeaf(leaf)
	if err != nil {
		return "", err
	}
	return Key(ev.TenantID, ev.ID), nil
}

// cutString reads a JSON string member of b that starts with prefix (which
// ends at the opening quote) and has no escapes, returning its value and
// what follows the closing quote.
func cutString(b []byte, prefix string) (value string, rest []byte, ok bool) {
	v, found := bytes.CutPrefix(b, []byte(prefix))
	if !found {
		return "", nil, false
	}
	i := bytes.IndexByte(v, '"')
	if i < 0 || bytes.IndexByte(v[:i], '\\') >= 0 {
		return "", nil, false
	}
	return string(v[:i]), v[i+1:], true
}
