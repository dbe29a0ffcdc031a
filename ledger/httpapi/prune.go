package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ledger-dev/ledger/ledger/prune"
	"github.com/ledger-dev/ledger/tiles"
)

// PrunedReader says how far the log is pruned (a ledger.Pruner).
type PrunedReader interface {
	Pruned(ctx context.Context) (tiles.Pruned, error)
}

// Pruner runs prunes of the log's left edge (a *prune.Runner).
type Pruner interface {
	Run(ctx context.Context, req prune.Request) (*prune.Result, error)
}

// getPruned answers GET /pruned.json: how far the log is pruned, as C2SP
// tlog-tiles' minimum index ({"minimum_index":0} for a log never pruned).
// Public, like the checkpoint and the hash tiles.
func (s *Server) getPruned(w http.ResponseWriter, r *http.Request) {
	var p tiles.Pruned
	if s.cfg.Pruned != nil {
		var err error
		if p, err = s.cfg.Pruned.Pruned(r.Context()); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, p)
}

// prunedBody is the body of the 410 answer to a pruned bundle: the Pruned
// document's members, a status and a sentence.
type prunedBody struct {
	Error  string `json:"error"`
	Status string `json:"status"`
	tiles.Pruned
	RequestID string `json:"request_id,omitempty"`
}

// pruneRequest is the body of POST /v1/admin/prune.
type pruneRequest struct {
	DryRun bool `json:"dry_run"`
}

// runPrune answers POST /v1/admin/prune: a prune of the log's left edge
// now (or a dry run), as the schedule runs it. The run appends its own
// retention.pruned event, naming the caller's token.
func (s *Server) runPrune(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Prune == nil {
		s.writeError(w, r, fmt.Errorf("%w: this ledger does not prune (it needs storage that can, the query index, and no --read-only)", errNotFound))
		return
	}
	var req pruneRequest
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBodyBytes))
	if err != nil {
		s.writeError(w, r, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	if len(bytes.TrimSpace(b)) > 0 { // no body: a prune
		r.Body = io.NopCloser(bytes.NewReader(b))
		if !s.decodeBody(w, r, &req, `{"dry_run": true|false}`) {
			return
		}
	}
	res, err := s.cfg.Prune.Run(r.Context(), prune.Request{DryRun: req.DryRun, By: "token:" + CallerOf(r).ID})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// writePruned answers a bundle the log pruned: 410 Gone, with the minimum
// index and the archive (see prunedBody).
func (s *Server) writePruned(w http.ResponseWriter, r *http.Request, err error) bool {
	var pe *tiles.PrunedError
	if !errors.As(err, &pe) {
		return false
	}
	writeJSON(w, http.StatusGone, prunedBody{Error: pe.Error(), Status: "pruned", Pruned: pe.Pruned, RequestID: requestIDOf(r)})
	return true
}
