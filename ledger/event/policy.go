package event

import (
	"fmt"
	"strings"
	"time"
)

// ReservedNamespaces are the event type prefixes of the ledger's own
// events: the audit of its API (audit.accessed), administration (admin.*),
// and those of erasure (privacy.*), retention (retention.*) and the log
// itself (ledger.*). Only the ledger writes them (PrepareOwn); Prepare
// refuses a client's event in any of them (ErrReserved), so that an event
// of these types in the log is the ledger's word, not a writer's.
var ReservedNamespaces = []string{"audit.", "admin.", "privacy.", "retention.", "ledger."}

// ReservedNamespace returns the reserved namespace eventType is in, or "".
func ReservedNamespace(eventType string) string {
	for _, ns := range ReservedNamespaces {
		if strings.HasPrefix(eventType, ns) {
			return ns
		}
	}
	return ""
}

// refuseReserved refuses a batch with an event of a reserved type
// (ErrReserved), naming each.
func refuseReserved(events []*Event) error {
	var problems []FieldError
	for i, ev := range events {
		if ns := ReservedNamespace(ev.EventType); ns != "" {
			problems = append(problems, FieldError{Index: i, Field: "event_type",
				Message: fmt.Sprintf("%s is in the namespace %s, which only the ledger writes (reserved: %s)",
					quote(ev.EventType), ns, strings.Join(ReservedNamespaces, ", "))})
		}
	}
	if len(problems) > 0 {
		return &Error{Kind: ErrReserved, Message: "events of a type only the ledger writes; nothing was appended", Details: problems}
	}
	return nil
}

// boundTimestamps refuses a batch with an event whose own timestamp is
// more than lim.MaxFutureSkew after now or more than lim.MaxAge before it
// (ErrInvalid). Events without a timestamp get now, which is within both.
func boundTimestamps(events []*Event, now time.Time, lim Limits) error {
	var problems []FieldError
	for i, ev := range events {
		switch ts := ev.Timestamp; {
		case ts.IsZero():
		case ts.After(now.Add(lim.MaxFutureSkew)):
			problems = append(problems, FieldError{Index: i, Field: "timestamp",
				Message: fmt.Sprintf("is %s after the ledger's clock (%s); at most %s ahead is accepted (limits.max_future_skew): check the sender's clock",
					ts.Sub(now).Round(time.Second), now.UTC().Format(time.RFC3339), lim.MaxFutureSkew)})
		case ts.Before(now.Add(-lim.MaxAge)):
			problems = append(problems, FieldError{Index: i, Field: "timestamp",
				Message: fmt.Sprintf("is %s before the ledger's clock (%s); events older than %s are refused (limits.max_event_age)",
					now.Sub(ts).Round(time.Second), now.UTC().Format(time.RFC3339), lim.MaxAge)})
		}
	}
	if len(problems) > 0 {
		return &Error{Kind: ErrInvalid, Message: "timestamps out of bounds; nothing was appended", Details: problems}
	}
	return nil
}
