package witness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ledger-dev/ledger/tiles"
)

// Handler serves the tlog-witness API:
//
//	POST /add-checkpoint                   cosign a checkpoint
//	GET  /<hex sha256(origin)>/checkpoint  the latest cosigned checkpoint
func Handler(w *Witness) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, tiles.MaxAddCheckpointSize))
		if err != nil {
			w.writeError(rw, fmt.Errorf("%w: couldn't read the body: %w", ErrBadRequest, err))
			return
		}
		req, err := tiles.ParseAddCheckpointRequest(body)
		if err != nil {
			w.log.InfoContext(r.Context(), "refused request", "err", err.Error(), "body_bytes", len(body))
			w.writeError(rw, err)
			return
		}
		sigs, err := w.Update(r.Context(), req)
		if err != nil {
			w.writeError(rw, err)
			return
		}
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(sigs)
	})
	mux.HandleFunc("GET /{hash}/checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		cp, err := w.LatestByHash(r.Context(), r.PathValue("hash"))
		switch {
		case err != nil:
			w.writeError(rw, fmt.Errorf("couldn't read the checkpoint: %w", err))
		case cp == nil:
			w.writeError(rw, errNoCheckpoint)
		default:
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rw.Header().Set("Cache-Control", "no-cache")
			rw.Write(cp)
		}
	})
	return mux
}

// errNoCheckpoint: the monitoring path names no log this witness cosigned for.
var errNoCheckpoint = errors.New("no checkpoint cosigned for this origin")

// writeError is the one place witness errors become status codes. A stale
// old size is answered as tlog-witness requires (the size, as
// text/x.tlog.size); every other error as JSON {"error": "..."}.
func (w *Witness) writeError(rw http.ResponseWriter, err error) {
	var conflict *ConflictError
	status := http.StatusInternalServerError
	switch {
	case errors.As(err, &conflict):
		if !conflict.RootMismatch {
			// SPEC: The response body MUST consist of the tree size of the
			// latest cosigned checkpoint in decimal, followed by a newline.
			// The response MUST have a Content-Type of text/x.tlog.size.
			rw.Header().Set("Content-Type", "text/x.tlog.size")
			rw.WriteHeader(http.StatusConflict)
			fmt.Fprintf(rw, "%d\n", conflict.Size)
			return
		}
		status = http.StatusConflict
	case errors.Is(err, ErrBadRequest), errors.Is(err, tiles.ErrMalformedAddCheckpoint):
		status = http.StatusBadRequest
	case errors.Is(err, ErrUnknownLog), errors.Is(err, errNoCheckpoint):
		status = http.StatusNotFound
	case errors.Is(err, ErrUntrusted):
		status = http.StatusForbidden
	case errors.Is(err, ErrInconsistent):
		status = http.StatusUnprocessableEntity
	}
	if status >= 500 {
		w.log.Error("request failed", "status", status, "err", err.Error())
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	json.NewEncoder(rw).Encode(struct {
		Error string `json:"error"`
	}{err.Error()})
}
