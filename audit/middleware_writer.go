package audit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
)

// The ResponseWriters of the two middleware modes.

// statusWriter passes a response through and notes its status.
type statusWriter struct {
	http.ResponseWriter
	status int // the first final status, 0 until there is one
}

// WriteHeader notes a final status and passes code on.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write passes p on; without a status set, the status is 200.
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends what was written so far, if the ResponseWriter underneath
// can.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush() // http.Flusher has no error to return
}

// Unwrap gives http.ResponseController the ResponseWriter underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// holdState is where a heldWriter is.
type holdState int

const (
	holding  holdState = iota // the response is in memory
	released                  // the event is durable; the response goes through
	replaced                  // the event could not be recorded; the client got an error
)

// heldWriter holds a response, headers and body, until its event is
// durable: until the handler returns, flushes, or writes more than limit.
type heldWriter struct {
	rw        http.ResponseWriter
	header    http.Header // the handler's headers while holding
	status    int         // the final status, 0 until set
	buf       bytes.Buffer
	limit     int
	requestID string
	record    func(status int) error // records the event
	state     holdState
	err       error // why the response was replaced
}

// Header returns the held headers, then those of the ResponseWriter
// underneath.
func (w *heldWriter) Header() http.Header {
	if w.state == holding {
		return w.header
	}
	return w.rw.Header()
}

// WriteHeader holds the first final status. Informational ones (1xx) are
// dropped: they would reach the client before the event is durable.
func (w *heldWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http does
	}
	if w.state == holding && w.status == 0 && code >= 200 {
		w.status = code
	}
}

// Write holds p, or passes it on once the response is released.
func (w *heldWriter) Write(p []byte) (int, error) {
	switch w.state {
	case released:
		return w.rw.Write(p)
	case replaced:
		return 0, w.err
	}
	w.status = cmp.Or(w.status, http.StatusOK)
	w.buf.Write(p)
	if w.buf.Len() > w.limit {
		if err := w.release(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush records the event, releases the response and flushes it.
func (w *heldWriter) Flush() {
	if w.release() == nil {
		_ = http.NewResponseController(w.rw).Flush() // http.Flusher has no error to return
	}
}

// Unwrap gives http.ResponseController the ResponseWriter underneath, for
// deadlines. (A handler that hijacks the connection through it bypasses
// the hold.)
func (w *heldWriter) Unwrap() http.ResponseWriter { return w.rw }

// release records the event, then sends the held response, or an error in
// its place if the event could not be recorded. Once the response is
// released it does nothing.
func (w *heldWriter) release() error {
	switch w.state {
	case released:
		return nil
	case replaced:
		return w.err
	}
	status := cmp.Or(w.status, http.StatusOK)
	if err := w.record(status); err != nil {
		w.state = replaced
		w.err = fmt.Errorf("audit: the response was withheld, its event could not be recorded: %w", err)
		writeUnrecorded(w.rw, err, w.requestID)
		return w.err
	}
	w.state = released
	h := w.rw.Header()
	clear(h)
	maps.Copy(h, w.header)
	w.rw.WriteHeader(status)
	_, err := w.rw.Write(w.buf.Bytes())
	w.buf = bytes.Buffer{}
	return err
}

// writeUnrecorded answers a request whose event could not be recorded:
// 503 if the ledger was unavailable, 500 if the event was refused.
func writeUnrecorded(w http.ResponseWriter, err error, requestID string) {
	status, msg := http.StatusInternalServerError, "the request's audit event could not be recorded"
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		status, msg = http.StatusServiceUnavailable, "the audit log is unavailable"
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg, "request_id": requestID}) // the client may be gone; nothing to do then
}
