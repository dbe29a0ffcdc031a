package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/access"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/tiles"
)

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error     string             `json:"error"`
	Details   []event.FieldError `json:"details,omitempty"`
	RequestID string             `json:"request_id,omitempty"`
}

// Errors of the HTTP layer itself.
var (
	errNotFound   = errors.New("not found")
	errBadRequest = errors.New("bad request")
	errTooLarge   = errors.New("request body too large")
	// errMethodNotAllowed: the path is served, but not with this method.
	errMethodNotAllowed = errors.New("method not allowed")
)

// writeError is the one place errors become HTTP statuses and JSON bodies.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if s.writePruned(w, r, err) {
		return
	}
	status := http.StatusInternalServerError
	body := errorBody{Error: err.Error(), Details: detailsOf(err), RequestID: requestIDOf(r)}
	switch {
	case errors.Is(err, errArchiveFailed):
		// Checked first: the run's error may wrap anything (a missing
		// object, tampered data, a canceled request), and is all the
		// archive's.
		status = http.StatusBadGateway
	case errors.Is(err, event.ErrInvalid), errors.Is(err, hold.ErrInvalid), errors.Is(err, errBadRequest):
		status = http.StatusBadRequest
	case errors.Is(err, event.ErrTooLarge), errors.Is(err, errTooLarge), errors.Is(err, tiles.ErrEntryTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, event.ErrOtherTenant), errors.Is(err, event.ErrReserved):
		status = http.StatusForbidden
	case errors.Is(err, errMethodNotAllowed):
		status = http.StatusMethodNotAllowed
	case errors.Is(err, errNotFound), errors.Is(err, hold.ErrNotFound), errors.Is(err, tiles.ErrNotFound), errors.Is(err, access.ErrNoToken):
		status = http.StatusNotFound
	case errors.Is(err, errUnauthorized):
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer realm="ledger"`)
	case errors.Is(err, errForbidden), errors.Is(err, ledger.ErrReadOnly):
		status = http.StatusForbidden
	case errors.Is(err, access.ErrStatic), errors.Is(err, ledger.ErrKeyConflict), errors.Is(err, errHeld), errors.Is(err, ledger.ErrPrune):
		status = http.StatusConflict
	case errors.Is(err, errRateLimited):
		status = http.StatusTooManyRequests
	case errors.Is(err, tiles.ErrTampered):
		// Stored data that is not the log's: not served, and not a
		// failure a retry would get past.
		status = http.StatusServiceUnavailable
	case errors.Is(err, ledger.ErrStorage):
		// The error names paths and hosts: the log has it, not the body.
		status, body.Error = http.StatusServiceUnavailable, ledger.ErrStorage.Error()+"; retry later"
		w.Header().Set("Retry-After", "2")
	case errors.Is(err, ledger.ErrPushback), errors.Is(err, ledger.ErrClosed), errors.Is(err, errBodyBudget):
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer. Appended events
		// stay appended: a retry with the same id finds them.
		s.log.Debug("client went away", "method", r.Method, "path", r.URL.Path, "err", err)
		status = 499
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	switch {
	case status == http.StatusInternalServerError:
		// An error no sentinel names may say anything about the server.
		body.Error = "internal server error; the server's log has the details under the request id"
		s.log.Error("request failed", "request_id", requestIDOf(r), "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	case status >= 500:
		// Pushback and storage failures come in floods while they last:
		// the first is logged, then at most one a second.
		s.unavailable.Do(func() {
			s.log.Error("request failed; more like it within a second are not logged", "request_id", requestIDOf(r), "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
		})
	}
	writeJSON(w, status, body)
}

// detailsOf returns the problems err lists, each naming an event or a query
// parameter and its field, for the body's details.
func detailsOf(err error) []event.FieldError {
	var evErr *event.Error
	var pErr *paramError
	var kc *ledger.KeyConflictError
	switch {
	case errors.As(err, &evErr):
		return evErr.Details
	case errors.As(err, &pErr):
		return pErr.problems
	case errors.As(err, &kc):
		return []event.FieldError{{Index: kc.Entry, Field: "id", Message: fmt.Sprintf("is already logged at index %d with other content", kc.Index)}}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
