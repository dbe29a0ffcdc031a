package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/index"
)

// ErasureExecutedEventType is the event an erasure appends: it names the
// destroyed key's id (the subject's pseudonym), never the subject.
const ErasureExecutedEventType = "privacy.erasure_executed"

// SubjectKeys opens and destroys data subjects' keys (see
// ledger/subjectkey.Store).
type SubjectKeys interface {
	// Open returns the key named kid: subjectkey.ErrErased once destroyed,
	// subjectkey.ErrUnknownKey if never held.
	Open(ctx context.Context, kid string) ([]byte, error)
	// Destroy destroys the subject's key durably and returns its id; run
	// again, it returns the id of the key it destroyed; "" when the
	// subject never had one.
	Destroy(ctx context.Context, tenant, subject string) (kid string, err error)
}

// errHeld refuses an erasure that a legal hold covers.
var errHeld = errors.New("a legal hold covers the subject")

// erasureRequest is the body of POST /v1/admin/erasures.
type erasureRequest struct {
	TenantID string `json:"tenant_id"`
	Subject  string `json:"subject"`
}

// eraseSubject answers POST /v1/admin/erasures: unless a legal hold covers
// the subject, it destroys the subject's key, so that nothing sealed under
// it opens again, then appends a privacy.erasure_executed event naming the
// key's id and, with an index, the count of the subject's indexed events
// sealed under it. If the event cannot be appended, the key is destroyed all the
// same; running the request again appends it (Destroy names the key it
// destroyed).
func (s *Server) eraseSubject(w http.ResponseWriter, r *http.Request) {
	hs, ok := s.holdStore(w, r)
	if !ok {
		return
	}
	if s.cfg.SubjectKeys == nil || s.cfg.Seal == nil {
		s.writeError(w, r, fmt.Errorf("%w: this ledger seals nothing, so it has no subject keys to erase (see sealing in docs/sealed-fields.md)", errNotFound))
		return
	}
	var req erasureRequest
	if !s.decodeBody(w, r, &req, `{"tenant_id", "subject"}`) {
		return
	}
	if req.Subject == "" {
		s.writeError(w, r, fmt.Errorf("%w: subject is required", errBadRequest))
		return
	}
	holds, err := hs.List()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, h := range holds {
		if h.Active() && s.covers(h, req.TenantID, req.Subject) {
			s.writeError(w, r, fmt.Errorf("%w: legal hold %s (%s); release it first", errHeld, h.ID, h.Reason))
			return
		}
	}
	kid, err := s.cfg.SubjectKeys.Destroy(r.Context(), req.TenantID, req.Subject)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if kid == "" {
		s.writeError(w, r, fmt.Errorf("%w: subject %q of tenant %q has no key: nothing was sealed under one", errNotFound, req.Subject, req.TenantID))
		return
	}
	rec := accessRecord{eventType: ErasureExecutedEventType, action: "delete", resourceType: "subject_key", resourceID: kid,
		tags: map[string]string{"kid": kid}}
	if s.cfg.Index != nil {
		n, err := s.sealedCount(r.Context(), req.TenantID, req.Subject, kid)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("the key %s is destroyed, but %w; run the erasure again to log it", kid, err))
			return
		}
		rec.count = &n
	}
	if req.TenantID != "" {
		rec.tags["erased_tenant_id"] = req.TenantID
	}
	if err := s.recordAccess(r, rec); err != nil {
		s.writeError(w, r, fmt.Errorf("the key %s is destroyed, but %w; run the erasure again to log it", kid, err))
		return
	}
	answer := map[string]any{"tenant_id": req.TenantID, "kid": kid, "erased": true}
	if rec.count != nil {
		answer["count"] = *rec.count
	}
	writeJSON(w, http.StatusOK, answer)
}

// sealedCount counts the published events of the subject in the index
// that are sealed under kid: the subject's events up to the index's
// position (an event published but not yet indexed is not counted).
func (s *Server) sealedCount(ctx context.Context, tenant, subject, kid string) (int, error) {
	f := index.Filter{TenantID: tenant}
	switch s.cfg.Seal.Subject {
	case "actor.id":
		f.ActorID = subject
	case "resource.id":
		f.ResourceID = subject
	}
	_, size := s.cfg.Ledger.Published()
	q := index.Query{Filter: f, Below: size, Order: index.OldestFirst, Limit: exportPage}
	n := 0
	for {
		rows, err := s.cfg.Index.Query(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("couldn't count the subject's events: %w", err)
		}
		for _, row := range rows {
			if ev, err := event.ParseLeaf(row.Leaf); err == nil && ev.Sealed != nil && ev.Sealed.KID == kid {
				n++
			}
		}
		if len(rows) < q.Limit {
			return n, nil
		}
		c := index.CursorOf(rows[len(rows)-1], f.By)
		q.After = &c
	}
}

// covers reports whether hold h may preserve events of the subject in the
// tenant. It errs on the side of preserving: a hold on the tenant covers
// every subject in it, and a hold on a resource covers every subject
// unless the subject is the actor and the hold names another actor.
func (s *Server) covers(h hold.Hold, tenant, subject string) bool {
	if h.TenantID != "" && h.TenantID != tenant {
		return false
	}
	if h.ActorID != "" && s.cfg.Seal.Subject == "actor.id" && h.ActorID != subject {
		return false
	}
	if h.ResourceID != "" && s.cfg.Seal.Subject == "resource.id" && h.ResourceID != subject {
		return false
	}
	return true
}
