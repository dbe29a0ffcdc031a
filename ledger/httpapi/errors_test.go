package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"

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
		{"anything else", fmt.Errorf("disk on fire"), 500, 0},
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
