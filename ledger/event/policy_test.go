package event

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPrepareRefusesReserved: a client's event in any of the ledger's own
// namespaces fails its whole batch (single, array, NDJSON, with or without
// a tenant), naming the rule; the ledger's own events may use them, and a
// type that merely starts like one (auditing.x) is a client's.
func TestPrepareRefusesReserved(t *testing.T) {
	ok := `{"event_type":"auditing.read","action":"read","actor":{"id":"u","type":"user"},"resource":{"type":"r"},"result":"success"}`
	for _, ns := range ReservedNamespaces {
		typ := ns + "forged"
		bad := strings.Replace(ok, "auditing.read", typ, 1)
		for _, tt := range []struct{ name, body, ctype, tenant string }{
			{"single", bad, "", ""},
			{"array", "[" + ok + "," + bad + "]", "", ""},
			{"ndjson with a tenant", ok + "\n" + bad, "application/x-ndjson", "acme"},
		} {
			t.Run(typ+"/"+tt.name, func(t *testing.T) {
				batch, err := testPipeline(Limits{}).Prepare(Submission{Body: []byte(tt.body), ContentType: tt.ctype, Tenant: tt.tenant})
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrReserved) || batch.Entries != nil {
					t.Fatalf("err = %v (%d entries), want ErrReserved and nothing", err, len(batch.Entries))
				}
				at := strings.Count(tt.body, "{\"event_type") - 1
				want := fmt.Sprintf("%q is in the namespace %s, which only the ledger writes", typ, ns)
				if len(e.Details) != 1 || e.Details[0].Index != at || e.Details[0].Field != "event_type" || !strings.Contains(e.Details[0].Message, want) {
					t.Fatalf("details %+v, want event %d: event_type: %s", e.Details, at, want)
				}
			})
		}
		if _, err := testPipeline(Limits{}).PrepareOwn(&Event{EventType: typ, Action: "read", Actor: Actor{ID: "l", Type: "system"},
			Resource: Resource{Type: "r"}, Result: "success"}); err != nil {
			t.Errorf("the ledger's own %s event: %v", typ, err)
		}
	}
	if _, err := testPipeline(Limits{}).Prepare(Submission{Body: []byte(ok)}); err != nil {
		t.Errorf("auditing.read: %v", err)
	}
}

// TestPrepareBoundsTimestamps: a client's own timestamp beyond the future
// skew or the past bound fails the batch, naming the limit; within them,
// or absent, it is kept.
func TestPrepareBoundsTimestamps(t *testing.T) {
	now := time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC) // testPipeline's clock
	at := func(d time.Duration) string {
		return fmt.Sprintf(`{"timestamp":%q,"action":"read","actor":{"id":"u","type":"user"},"resource":{"type":"r"},"result":"success"}`,
			now.Add(d).Format(time.RFC3339Nano))
	}
	for _, tt := range []struct {
		name string
		lim  Limits
		body string
		msg  string // "" if accepted
	}{
		{"an hour ahead", Limits{}, at(time.Hour), "is 1h0m0s after the ledger's clock (2024-05-01T11:00:00Z); at most 5m0s ahead is accepted (limits.max_future_skew)"},
		{"just within the skew", Limits{}, at(5 * time.Minute), ""},
		{"a configured skew", Limits{MaxFutureSkew: 2 * time.Hour}, at(time.Hour), ""},
		{"31 days behind", Limits{}, at(-31 * 24 * time.Hour), "is 744h0m0s before the ledger's clock (2024-05-01T11:00:00Z); events older than 720h0m0s are refused (limits.max_event_age)"},
		{"29 days behind", Limits{}, at(-29 * 24 * time.Hour), ""},
		{"a configured age", Limits{MaxAge: time.Hour}, at(-2 * time.Hour), "events older than 1h0m0s are refused"},
		{"in 2099, in a batch", Limits{}, "[" + at(0) + "," + strings.Replace(at(0), "2024", "2099", 1) + "]", "after the ledger's clock"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testPipeline(tt.lim).Prepare(Submission{Body: []byte(tt.body)})
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) || len(e.Details) != 1 || e.Details[0].Field != "timestamp" ||
				!strings.Contains(e.Details[0].Message, tt.msg) {
				t.Fatalf("err = %v, want a timestamp problem %q", err, tt.msg)
			}
		})
	}
}
