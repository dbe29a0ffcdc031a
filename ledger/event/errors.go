package event

import "fmt"

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
