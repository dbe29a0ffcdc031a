package httpapi

import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/ledger-dev/ledger/ledger/hold"
)

// Event types of legal holds, appended for every hold request.
const (
	HoldsListedEventType  = "admin.legal_holds_listed"
	HoldPlacedEventType   = "admin.legal_hold_placed"
	HoldReleasedEventType = "admin.legal_hold_released"
	holdResource          = "legal_hold"
)

// holdStore returns the hold store, or answers 404 when there is none.
func (s *Server) holdStore(w http.ResponseWriter, r *http.Request) (*hold.Store, bool) {
	if s.cfg.Holds == nil || !s.authEnabled() {
		s.writeError(w, r, fmt.Errorf("%w: this ledger keeps no legal holds (they need access control)", errNotFound))
		return nil, false
	}
	return s.cfg.Holds, true
}

// listHolds answers GET /v1/admin/holds.
func (s *Server) listHolds(w http.ResponseWriter, r *http.Request) {
	hs, ok := s.holdStore(w, r)
	if !ok {
		return
	}
	holds, err := hs.List()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n := len(holds)
	if err := s.recordAccess(r, accessRecord{eventType: HoldsListedEventType, action: "read", resourceType: holdResource, resourceID: "*", count: &n}); err != nil {
		s.writeError(w, r, err)
		return
	}
	if holds == nil {
		holds = []hold.Hold{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"holds": holds})
}

// placeRequest is the body of POST /v1/admin/holds.
type placeRequest struct {
	hold.Scope
	Reason string `json:"reason"`
}

// placeHold answers POST /v1/admin/holds. The hold is in the hold file
// before its event is appended; if the event cannot be appended, the hold
// stays placed (preserving too much is the safe side) and the answer says
// so.
func (s *Server) placeHold(w http.ResponseWriter, r *http.Request) {
	hs, ok := s.holdStore(w, r)
	if !ok {
		return
	}
	var req placeRequest
	if !s.decodeBody(w, r, &req, `{"tenant_id", "actor_id", "resource_type", "resource_id", "reason"}`) {
		return
	}
	h, err := hs.Place(hold.Hold{Scope: req.Scope, Reason: req.Reason, PlacedBy: "token:" + CallerOf(r).ID}, s.cfg.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.recordAccess(r, s.holdRecord(HoldPlacedEventType, "create", h)); err != nil {
		s.writeError(w, r, fmt.Errorf("legal hold %s is placed, but %w", h.ID, err))
		return
	}
	writeJSON(w, http.StatusCreated, h)
}

// releaseHold answers DELETE /v1/admin/holds/{id}.
func (s *Server) releaseHold(w http.ResponseWriter, r *http.Request) {
	hs, ok := s.holdStore(w, r)
	if !ok {
		return
	}
	h, err := hs.Release(chi.URLParam(r, "id"), "token:"+CallerOf(r).ID, s.cfg.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.recordAccess(r, s.holdRecord(HoldReleasedEventType, "delete", h)); err != nil {
		s.writeError(w, r, fmt.Errorf("legal hold %s is released, but %w", h.ID, err))
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// holdRecord is the audit event of a change to hold h, carrying its scope
// and reason.
func (s *Server) holdRecord(eventType, action string, h hold.Hold) accessRecord {
	tags := map[string]string{"reason": h.Reason}
	for k, v := range map[string]string{"tenant_id": h.TenantID, "actor_id": h.ActorID, "resource_type": h.ResourceType, "resource_id": h.ResourceID} {
		if v != "" {
			tags["scope_"+k] = v
		}
	}
	return accessRecord{eventType: eventType, action: action, resourceType: holdResource, resourceID: h.ID, tags: tags}
}
