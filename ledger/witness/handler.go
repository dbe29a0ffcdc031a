package witness

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Handler serves the tlog-witness API:
//
//	POST /add-checkpoint               cosign a checkpoint
//	GET  /<hex sha256(origin)>/checkpoint  the latest cosigned checkpoint
func Handler(w *Witness) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxBodySize))
		if err != nil {
			writeError(rw, fmt.Errorf("%w: %v", ErrBadRequest, err))
			return
		}
		req, err := ParseRequest(body)
		if err != nil {
			writeError(rw, err)
			return
		}
		sigs, err := w.Update(r.Context(), req)
		if err != nil {
			writeError(rw, err)
			return
		}
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(sigs)
	})
	mux.HandleFunc("GET /{origin}/checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		for origin := range w.logs {
			sum := sha256.Sum256([]byte(origin))
			if hex.EncodeToString(sum[:]) != strings.ToLower(r.PathValue("origin")) {
				continue
			}
			cp, err := w.Latest(r.Context(), origin)
			if err != nil {
				writeError(rw, err)
				return
			}
			if cp != nil {
				rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
				rw.Write(cp)
				return
			}
		}
		http.Error(rw, "no checkpoint cosigned for this origin", http.StatusNotFound)
	})
	return mux
}

// writeError is the one place witness errors become status codes.
func writeError(rw http.ResponseWriter, err error) {
	var conflict *ConflictError
	status := http.StatusInternalServerError
	switch {
	case errors.As(err, &conflict):
		if !conflict.RootMismatch {
			// SPEC: include the latest size in the body, as text/x.tlog.size.
			rw.Header().Set("Content-Type", "text/x.tlog.size")
			rw.WriteHeader(http.StatusConflict)
			fmt.Fprintf(rw, "%d\n", conflict.Size)
			return
		}
		status = http.StatusConflict
	case errors.Is(err, ErrBadRequest):
		status = http.StatusBadRequest
	case errors.Is(err, ErrUnknownLog):
		status = http.StatusNotFound
	case errors.Is(err, ErrUntrusted):
		status = http.StatusForbidden
	case errors.Is(err, ErrInconsistent):
		status = http.StatusUnprocessableEntity
	}
	http.Error(rw, err.Error(), status)
}
