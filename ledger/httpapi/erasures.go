package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
)

// ErasureExecutedEventType is the event an erasure appends: it names the
// destroyed key's id (the subject's pseudonym), never the subject.
const ErasureExecutedEventType = "privacy.erasure_executed"

// The reasons an erasure event gives in its reason tag.
const (
	// ReasonRequest is an erasure asked for with POST /v1/admin/erasures.
	ReasonRequest = "request"
	// ReasonRetentionMax is a key destroyed by Shred: the retention max of
	// every event sealed under it has passed.
	ReasonRetentionMax = "retention max"
)

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
// sealed under it, and marks the erasure logged. If the event cannot be
// appended (or the server is killed first), the key is destroyed all the
// same and the erasure stays pending: running the request again appends
// the event; run again after that, it appends nothing. The event's id is
// the erasure's (erasureEventID), so it is never in the log twice.
func (s *Server) eraseSubject(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.holdStore(w, r); !ok {
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
	why := subjectkey.Why{Reason: ReasonRequest}
	if p := CallerOf(r); p != nil {
		why.By = "token:" + p.ID
	}
	e, err := s.erase(r.Context(), req.TenantID, req.Subject, why, time.Time{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if e.KID == "" {
		s.writeError(w, r, fmt.Errorf("%w: subject %q of tenant %q has no key: nothing was sealed under one", errNotFound, req.Subject, req.TenantID))
		return
	}
	answer := map[string]any{"tenant_id": req.TenantID, "kid": e.KID, "erased": true}
	if !e.Pending {
		// Erased and logged before: the erasure's event is in the log.
		writeJSON(w, http.StatusOK, answer)
		return
	}
	tags, count, err := s.erasureTags(r.Context(), e)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rec := accessRecord{id: erasureEventID(e.KID), eventType: ErasureExecutedEventType, action: "delete", resourceType: "subject_key", resourceID: e.KID, tags: tags, count: count}
	if err := s.recordAccess(r, rec); err != nil && !errors.Is(err, ledger.ErrKeyConflict) {
		s.writeError(w, r, fmt.Errorf("the key %s is destroyed, but %w; run the erasure again to log it", e.KID, err))
		return
	}
	if err := s.cfg.SubjectKeys.Logged(r.Context(), e.KID); err != nil {
		s.writeError(w, r, err)
		return
	}
	if count != nil {
		answer["count"] = *count
	}
	writeJSON(w, http.StatusOK, answer)
}

// erasureEventID is the id of the event of the erasure of key kid: one id
// per erasure, so that the ledger's idempotency keys keep its event from
// being appended twice (a crash after the append but before the erasure
// was marked logged, or two instances completing it at once). A second
// append of it is the same event or, if its tags differ (another count),
// a key conflict: either way the event is in the log.
func erasureEventID(kid string) string { return "erasure:" + kid }

// erase refuses an erasure of the subject that an active legal hold may
// cover (errHeld, naming the hold), and otherwise destroys the subject's
// key (see subjectkey.Store.Destroy for why and idleBefore). It is the one
// path of every erasure, asked for or scheduled.
func (s *Server) erase(ctx context.Context, tenant, subject string, why subjectkey.Why, idleBefore time.Time) (subjectkey.Erasure, error) {
	holds, err := s.cfg.Holds.List()
	if err != nil {
		return subjectkey.Erasure{}, err
	}
	for _, h := range holds {
		if h.Active() && s.covers(h, tenant, subject) {
			return subjectkey.Erasure{}, fmt.Errorf("%w: legal hold %s (%s); release it first", errHeld, h.ID, h.Reason)
		}
	}
	return s.cfg.SubjectKeys.Destroy(ctx, tenant, subject, why, idleBefore)
}

// erasureTags returns the tags of the event of erasure e and, with an
// index, the count of the subject's indexed events sealed under its key.
func (s *Server) erasureTags(ctx context.Context, e subjectkey.Erasure) (map[string]string, *int, error) {
	tags := map[string]string{"kid": e.KID, "reason": e.Why.Reason}
	if e.Tenant != "" {
		tags["erased_tenant_id"] = e.Tenant
	}
	if e.Why.By != "" {
		tags["requested_by"] = e.Why.By
	}
	if s.cfg.Index == nil {
		return tags, nil, nil
	}
	n, err := s.sealedCount(ctx, e.Tenant, e.Subject, e.KID)
	if err != nil {
		return nil, nil, fmt.Errorf("the key %s is destroyed, but %w; run the erasure again to log it", e.KID, err)
	}
	return tags, &n, nil
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
