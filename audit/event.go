package audit

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
)

// The event schema is the ledger's own (docs/formats.md): these aliases let an
// application build events without importing the ledger's packages by name.
type (
	// Event is one audit event. Required: Actor.ID, Actor.Type, Action,
	// Resource.Type and Result; see the field comments for the rest.
	Event = event.Event
	// Actor is who acted: ID and Type ("user", "service", "admin",
	// "system" or "api_client") are required.
	Actor = event.Actor
	// Resource is what was acted upon: Type is required.
	Resource = event.Resource
	// Change is a field's old and new value, each any JSON value.
	Change = event.Change
	// FieldError is one problem with one event of a request.
	FieldError = event.FieldError
)

// Results of an event.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
	ResultDenied  = "denied"
)

// preparer turns events into the JSON the ledger is sent, the same way for
// Client.Append and Recorder.Record.
type preparer struct {
	limits   event.Limits
	redactor *event.Redactor
	now      func() time.Time
}

func newPreparer(now func() time.Time) preparer {
	return preparer{limits: event.DefaultLimits(), redactor: event.NewRedactor(event.DefaultRedactKeys), now: now}
}

// prepare gives ev an ID (a UUIDv7) and a Timestamp when they are empty,
// validates it against the ledger's schema and default limits, and returns
// the JSON to send and the redacted copy that JSON encodes.
//
// ev itself is changed only by the ID and Timestamp (and the canonical form
// of its IP address): a caller retrying the same *Event reuses its ID, so the
// ledger logs it once. Secrets (tags and change fields named like
// "password" or "api_key", see event.DefaultRedactKeys) are redacted in a
// copy, before the event reaches the spool or the network; the ledger would
// redact them anyway.
func (p preparer) prepare(ev *Event) ([]byte, *Event, error) {
	ev.Normalize(p.now(), event.NewID)
	if problems := ev.Validate(p.limits); len(problems) > 0 {
		return nil, nil, &Error{Message: "invalid event", Details: problems}
	}
	cp := *ev
	cp.Changes, cp.Tags = maps.Clone(ev.Changes), maps.Clone(ev.Tags)
	p.redactor.Redact(&cp)
	b, err := json.Marshal(&cp)
	if err != nil {
		return nil, nil, &Error{Message: fmt.Sprintf("event %s does not encode as JSON: %v", ev.ID, err)}
	}
	if len(b) > p.limits.MaxEventBytes {
		return nil, nil, &Error{Message: fmt.Sprintf("event %s is %d bytes of JSON, more than the ledger's limit of %d", ev.ID, len(b), p.limits.MaxEventBytes)}
	}
	return b, &cp, nil
}
