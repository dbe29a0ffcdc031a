package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ledger-dev/ledger/ledger/archive"
)

// Archiver runs the log's archive on demand.
type Archiver interface {
	// Archive runs the archive once (archive.Run) and records the run in
	// the log; it returns the run's record once that event is durable.
	Archive(ctx context.Context) (archive.Record, error)
}

// errArchiveFailed marks a failed archive run: the archive is a store
// apart from the ledger, and its error, which says what failed, is the
// answer (to an admin).
var errArchiveFailed = errors.New("the archive run failed")

// runArchive answers POST /v1/admin/archive with the record of a run.
func (s *Server) runArchive(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Archive == nil {
		s.writeError(w, r, fmt.Errorf("%w: no archive is configured (the archive block of the configuration file)", errNotFound))
		return
	}
	// A first run over a large log takes minutes: the answer is exempt
	// from the server's write timeout, and the run is not stopped by a
	// client that goes away (it ends, and is logged, all the same).
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	rec, err := s.cfg.Archive.Archive(context.WithoutCancel(r.Context()))
	if err != nil {
		s.writeError(w, r, fmt.Errorf("%w: %w", errArchiveFailed, err))
		return
	}
	writeJSON(w, http.StatusOK, rec)
}
