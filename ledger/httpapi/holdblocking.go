package httpapi

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/index"
)

// HoldBlockingReadEventType is appended for every read of what a hold blocks.
const HoldBlockingReadEventType = "admin.legal_hold_blocking_read"

// maxBlockingRanges bounds the index ranges a blocking report lists; its
// count covers every event however many ranges they make.
const maxBlockingRanges = 1000

// blockingPage is how many index rows a blocking report reads at a time.
const blockingPage = 1000

// indexRange is the entries first to last, inclusive.
type indexRange struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// blockingReport is the answer of GET /v1/admin/holds/{id}/blocking.
type blockingReport struct {
	Hold hold.Hold `json:"hold"`
	// Blocking says the hold is active and some published event is in its
	// scope: nothing may prune, archive away or erase those events.
	Blocking bool `json:"blocking"`
	// Events counts the published events in the hold's scope.
	Events int `json:"events"`
	// TreeSize is the published size the report covers.
	TreeSize uint64 `json:"tree_size"`
	// Ranges are the runs of consecutive indexes of those events, in
	// order; at most maxBlockingRanges, then RangesTruncated.
	Ranges          []indexRange `json:"ranges"`
	RangesTruncated bool         `json:"ranges_truncated,omitempty"`
}

// holdBlocking answers GET /v1/admin/holds/{id}/blocking: what the hold
// preserves, from the query index (the events of its scope in the
// published tree).
func (s *Server) holdBlocking(w http.ResponseWriter, r *http.Request) {
	hs, ok := s.holdStore(w, r)
	if !ok {
		return
	}
	if s.cfg.Index == nil {
		s.writeError(w, r, errNoIndex)
		return
	}
	id := chi.URLParam(r, "id")
	holds, err := hs.List()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	i := slices.IndexFunc(holds, func(h hold.Hold) bool { return h.ID == id })
	if i < 0 {
		s.writeError(w, r, fmt.Errorf("%w: %s", hold.ErrNotFound, id))
		return
	}
	_, size := s.cfg.Ledger.Published()
	rep := blockingReport{Hold: holds[i], TreeSize: size, Ranges: []indexRange{}}
	sc := rep.Hold.Scope
	q := index.Query{Filter: index.Filter{TenantID: sc.TenantID, ActorID: sc.ActorID, ResourceType: sc.ResourceType, ResourceID: sc.ResourceID},
		Below: size, Order: index.ByIndex, Limit: blockingPage}
	for {
		rows, err := s.cfg.Index.Query(r.Context(), q)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("couldn't read the query index: %w", err))
			return
		}
		for _, row := range rows {
			rep.add(row.Index)
		}
		if len(rows) < blockingPage {
			break
		}
		q.After = &index.Cursor{Index: rows[len(rows)-1].Index}
	}
	rep.Blocking = rep.Hold.Active() && rep.Events > 0
	if err := s.recordAccess(r, accessRecord{eventType: HoldBlockingReadEventType, action: "read", resourceType: holdResource, resourceID: id, count: &rep.Events}); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// add counts the event at index i, which follows every one added before.
func (rep *blockingReport) add(i uint64) {
	rep.Events++
	if n := len(rep.Ranges); n > 0 && rep.Ranges[n-1].Last+1 == i {
		rep.Ranges[n-1].Last = i
		return
	}
	if len(rep.Ranges) == maxBlockingRanges {
		rep.RangesTruncated = true
		return
	}
	rep.Ranges = append(rep.Ranges, indexRange{First: i, Last: i})
}
