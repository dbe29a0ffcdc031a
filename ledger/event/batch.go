package event

import (
	"fmt"
	"strings"
)

// decodeBatch decodes a submission's body (see Submission): one JSON
// object (single is true), a JSON array of objects, or NDJSON.
//
// Decoding is strict (see Submission.Body). Change values are stored in
// canonical form. Decoding does not apply the schema: Normalize and Validate
// come next. The events' strings share one copy of body, except ID, which
// the ledger keeps for long (as an idempotency key).
//
// The error is an *Error: ErrTooLarge when the batch has more than
// lim.MaxBatch events or an event is over lim.MaxEventBytes, ErrInvalid
// otherwise, with every problem found (decoding goes on past a bad field,
// not past bad JSON).
func decodeBatch(body []byte, contentType string, lim Limits) (events []*Event, single bool, err error) {
	// The events' strings are cut from one copy of the body.
	d := decoder{p: parser{src: body, s: string(body)}, lim: lim.withDefaults()}
	ndjson := isNDJSON(contentType)
	d.p.skipWS()
	switch {
	case d.p.pos == len(body):
		return nil, false, &Error{Kind: ErrInvalid, Message: "empty body: expected a JSON object, a JSON array or NDJSON"}
	case body[d.p.pos] == '[' && ndjson:
		return nil, false, &Error{Kind: ErrInvalid, Message: "an NDJSON body holds one JSON object per line, not an array"}
	case body[d.p.pos] == '[':
		events, err = d.array()
	case body[d.p.pos] == '{':
		events, err = d.stream()
		single = !ndjson && len(events) == 1
	default:
		return nil, false, &Error{Kind: ErrInvalid, Message: fmt.Sprintf("expected a JSON object, a JSON array or NDJSON, found %s", d.p.found())}
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

func (d *decoder) tooLarge(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Kind: ErrTooLarge, Message: msg + "; nothing was appended",
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
		return nil, &Error{Kind: ErrInvalid, Message: "empty batch: the array holds no events"}
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
