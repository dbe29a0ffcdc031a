package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors a caller may branch on.
var (
	// ErrUnavailable wraps the last error when the ledger could not be
	// reached, or kept answering 408, 429 or 5xx, until the attempts or the
	// context ran out. The events may or may not have been logged; sending
	// them again with the same IDs is safe.
	ErrUnavailable = errors.New("audit: ledger unavailable")
	// ErrNotPublished means the ledger has not yet published a checkpoint
	// covering the receipt's index (it does within its publish interval,
	// 1 s by default): VerifyReceipt can be retried.
	ErrNotPublished = errors.New("audit: entry not yet published")
	// ErrReceiptMismatch means the log holds something other than what the
	// receipt says at its index.
	ErrReceiptMismatch = errors.New("audit: receipt does not match the log")
)

// Error is an event or request that was refused: by this package's own
// checks (Status 0) or by the ledger (Status is its HTTP status, Message and
// Details its JSON error body).
type Error struct {
	// Status is the ledger's HTTP status, or 0 for a check made here.
	Status int
	// Message says what was wrong.
	Message string
	// Details lists the problems with individual events, each naming the
	// event's position in the call and the field.
	Details []FieldError
	// RetryAfter is the ledger's Retry-After, if it sent one.
	RetryAfter time.Duration
}

// Error returns the status, the message and the first problem.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("audit: ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "the ledger answered %d %s: ", e.Status, http.StatusText(e.Status))
	}
	b.WriteString(e.Message)
	if len(e.Details) > 0 {
		fmt.Fprintf(&b, ": %s", e.Details[0])
		if len(e.Details) > 1 {
			fmt.Fprintf(&b, " (and %d more)", len(e.Details)-1)
		}
	}
	return b.String()
}

// maxRetryAfter bounds how long a Retry-After header can make a client wait.
const maxRetryAfter = 5 * time.Minute

// maxAnswerBytes bounds a ledger answer: results of a batch of 10000 events
// are about 1.2 MB, a proof file is under 140 kB.
const maxAnswerBytes = 16 << 20

func readBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxAnswerBytes+1))
	if err == nil && len(b) > maxAnswerBytes {
		err = fmt.Errorf("answer longer than %d bytes", maxAnswerBytes)
	}
	return b, err
}

// responseError turns a non-200 answer into an *Error.
func responseError(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode}
	var j struct {
		Error   string       `json:"error"`
		Details []FieldError `json:"details"`
	}
	if json.Unmarshal(body, &j) == nil && j.Error != "" {
		e.Message, e.Details = j.Error, j.Details
	} else {
		e.Message = strings.TrimSpace(string(body[:min(len(body), 512)]))
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			e.RetryAfter = max(time.Until(t), 0)
		}
	}
	return e
}

// retryable reports whether a failed request may succeed if sent again:
// network errors and 408, 429 and 5xx answers, unless ctx is done.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
	}
	return true
}

// rejected reports whether the ledger refused the events themselves, so
// that sending them again can never succeed: 400, 413 and 422, and a 403
// that names events (one writing into a tenant the token may not). A 403
// without details is the token's role, like a 401 a matter of
// configuration: the events are fine and wait until it is fixed.
func rejected(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	case http.StatusForbidden:
		return len(e.Details) > 0
	}
	return false
}

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
