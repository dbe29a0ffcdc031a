package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
)

// hourAgo is the time n hours ago, within the ledger's default timestamp
// bounds, in RFC 3339.
func hourAgo(n int) string {
	return time.Now().Add(-time.Duration(n) * time.Hour).UTC().Format(time.RFC3339)
}

// TestIDConflict: an id already logged, sent again with other content, is
// a 409 naming the original index and the id, and the batch holding it
// appends nothing; sent again with the same content (the server stamping a
// new timestamp on it) it is a duplicate.
func TestIDConflict(t *testing.T) {
	s := newTestServer(t, event.Limits{}, 0)
	if code, _, body := s.do(t, "POST", "/v1/events", "application/json", "["+evJSON("a", 1)+","+evJSON("b", 2)+"]"); code != 200 {
		t.Fatalf("first append: %d %s", code, body)
	}
	stamped := func(id string, n int, ts string) string {
		return strings.Replace(evJSON(id, n), `"action"`, `"timestamp":"`+ts+`","action"`, 1)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		entry      int    // for a 409: the event at fault
		index      string // for a 409: the original's index, in the message
	}{
		{"same content, a new server timestamp", evJSON("b", 2), 200, 0, ""},
		{"other content", evJSON("a", 7), 409, 0, "index 0"},
		{"other content, second of a batch", evJSON("c", 3) + "\n" + evJSON("b", 9), 409, 1, "index 1"},
		{"twice in one batch, other content", evJSON("d", 4) + "\n" + evJSON("d", 5), 409, 1, "index 2"},
		{"its own timestamp, then another", stamped("e", 5, hourAgo(2)) + "\n" + stamped("e", 5, hourAgo(1)), 409, 1, "index 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := s.l.Committed().Size
			code, _, body := s.do(t, "POST", "/v1/events", "application/x-ndjson", tc.body)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %s", code, tc.status, body)
			}
			if code == 200 {
				var r []result
				if err := json.Unmarshal(body, &r); err != nil || len(r) != 1 || !r[0].Duplicate || r[0].Index != 1 {
					t.Fatalf("a resend of the same event: %s, want a duplicate", body)
				}
				return
			}
			var e struct {
				Error   string             `json:"error"`
				Details []event.FieldError `json:"details"`
			}
			if err := json.Unmarshal(body, &e); err != nil || len(e.Details) != 1 || e.Details[0].Index != tc.entry || e.Details[0].Field != "id" {
				t.Fatalf("409 body %s: want one detail for event %d's id", body, tc.entry)
			}
			if !strings.Contains(e.Error, tc.index) || !strings.Contains(e.Details[0].Message, tc.index) || !strings.Contains(e.Error, `event id "`) {
				t.Errorf("409 body %s: want the id and %s named", body, tc.index)
			}
			if got := s.l.Committed().Size; got != size {
				t.Errorf("a refused batch appended: size %d, then %d", size, got)
			}
		})
	}
}
