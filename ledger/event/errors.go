package event

import (
	"errors"
	"fmt"
)

// The kinds of a refused submission. Every error of Pipeline.Prepare and
// Pipeline.PrepareOwn that is about the events, rather than about the
// ledger, is an *Error that wraps one of them: errors.Is tells its kind and
// errors.As gives the problems.
var (
	// ErrInvalid is a body that is not a batch of events, or an event that
	// breaks the schema.
	ErrInvalid = errors.New("invalid events")
	// ErrTooLarge is a batch of more than Limits.MaxBatch events, or an
	// event over Limits.MaxEventBytes or whose leaf would be over
	// MaxLeafBytes.
	ErrTooLarge = errors.New("events over the limits")
	// ErrOtherTenant is an event naming a tenant other than the one its
	// submission is confined to (Submission.Tenant).
	ErrOtherTenant = errors.New("events of another tenant")
	// ErrReserved is a client's event whose type is in one of the ledger's
	// own namespaces (ReservedNamespaces).
	ErrReserved = errors.New("events of a reserved type")
)

// Error is a refused batch: its Kind, a message about the batch as a whole,
// and the problems found, each naming the event and the field. Nothing of a
// refused batch is appended.
type Error struct {
	// Kind is ErrInvalid, ErrTooLarge, ErrOtherTenant or ErrReserved;
	// Unwrap returns it.
	Kind error
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

// Unwrap returns the error's kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

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
