package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
)

// TestWriteError checks that the one error mapper gives each refusal of the
// event pipeline, of the query parameters and of the hold store its status,
// with the problems as details.
func TestWriteError(t *testing.T) {
	problems := []event.FieldError{{Index: 1, Field: "actor.type", Message: "required"}}
	for _, tc := range []struct {
		name    string
		err     error
		status  int
		details int
	}{
		{"invalid events", &event.Error{Kind: event.ErrInvalid, Message: "invalid events", Details: problems}, 400, 1},
		{"events over the limits", &event.Error{Kind: event.ErrTooLarge, Message: "too many"}, 413, 0},
		{"events of another tenant", &event.Error{Kind: event.ErrOtherTenant, Message: "another tenant", Details: problems}, 403, 1},
		{"wrapped", fmt.Errorf("couldn't build the access event: %w", &event.Error{Kind: event.ErrInvalid, Details: problems}), 400, 1},
		{"bad parameters", &paramError{problems: problems}, 400, 1},
		{"invalid hold", fmt.Errorf("%w: reason is required", hold.ErrInvalid), 400, 0},
		{"unknown hold", fmt.Errorf("%w: 0123456789abcdef", hold.ErrNotFound), 404, 0},
	} {
		s := &Server{log: slog.New(slog.DiscardHandler)}
		w := httptest.NewRecorder()
		s.writeError(w, httptest.NewRequest("POST", "/v1/events", nil), tc.err)
		var body errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tc.status || body.Error != tc.err.Error() || len(body.Details) != tc.details {
			t.Errorf("%s: %d %s, want %d with %d details", tc.name, w.Code, w.Body, tc.status, tc.details)
		}
	}
}

// TestWriteErrorHidesServer checks that a storage failure is a 503 with
// Retry-After and any other unexpected error a 500, and that neither body
// carries the error's text, which names server paths and hosts.
func TestWriteErrorHidesServer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		retry  string
	}{
		{"storage", fmt.Errorf("entries were not committed: %w: open /srv/ledger/log/tile/0/001: no space left on device", ledger.ErrStorage), 503, "2"},
		{"anything else", fmt.Errorf("open /srv/ledger/log/x: disk on fire"), 500, ""},
	} {
		s := &Server{log: slog.New(slog.DiscardHandler)}
		w := httptest.NewRecorder()
		s.writeError(w, httptest.NewRequest("POST", "/v1/events", nil), tc.err)
		if w.Code != tc.status || w.Header().Get("Retry-After") != tc.retry || strings.Contains(w.Body.String(), "/srv") {
			t.Errorf("%s: %d, Retry-After %q, %s; want %d, Retry-After %q, and no path", tc.name, w.Code, w.Header().Get("Retry-After"), w.Body, tc.status, tc.retry)
		}
	}
}
