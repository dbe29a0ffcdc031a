package httpapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ledger-dev/ledger/internal/every"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
)

// ShredReport is what one Shred run did.
type ShredReport struct {
	// Destroyed are the keys destroyed because the retention max of every
	// event sealed under them had passed.
	Destroyed []string
	// Completed are the keys of pending erasures whose event this run
	// appended: a crash had come between the key's destruction and it.
	Completed []string
	// Held counts the due keys that an active legal hold kept.
	Held int
}

// Shred destroys the keys of data subjects whose sealed events are all
// past their retention max (crypto-shredding at max), asking the legal
// holds first exactly as an erasure does, and appends for each a
// privacy.erasure_executed event with the reason "retention max". A key
// is due when a rule matching its tenant and every event type sets a max
// (retention.Policy.TenantMax) and that max has passed since the newest
// event sealed under the key (subjectkey.Info.Newest). A key given a later
// event while the run looks at it is kept.
//
// Each run first appends the events of erasures left pending (a crash came
// between the key's destruction and its event), so that a run after a
// restart completes them. An erasure's event has the erasure's id, so it
// is never appended twice, even beside an erasure request still running.
func (s *Server) Shred(ctx context.Context) (ShredReport, error) {
	var rep ShredReport
	if s.cfg.SubjectKeys == nil || s.cfg.Seal == nil || s.cfg.Holds == nil {
		return rep, errors.New("shredding needs sealing, its subject keys and the legal holds")
	}
	now := s.cfg.Now()
	pending, err := s.cfg.SubjectKeys.Pending(ctx)
	if err != nil {
		return rep, err
	}
	for _, e := range pending {
		if err := s.logErasure(ctx, e, 0); err != nil {
			return rep, err
		}
		rep.Completed = append(rep.Completed, e.KID)
	}
	if s.cfg.Retention == nil {
		return rep, nil
	}
	shortest := s.cfg.Retention.ShortestTenantMax()
	if shortest.IsZero() {
		return rep, nil
	}
	// No key whose newest event is later than this can be due: the
	// shortest max, counted back from now, with three days to spare for
	// months of different lengths; each key is then checked exactly.
	bound := now.AddDate(0, -shortest.Months, -shortest.Days).Add(-shortest.Clock).Add(72 * time.Hour)
	idle, err := s.cfg.SubjectKeys.Idle(ctx, bound)
	if err != nil {
		return rep, err
	}
	for _, k := range idle {
		max, rule := s.cfg.Retention.TenantMax(k.Tenant)
		if rule == 0 || now.Before(max.After(k.Newest)) {
			continue
		}
		e, err := s.erase(ctx, k.Tenant, k.Subject, subjectkey.Why{Reason: ReasonRetentionMax, By: "rule:" + strconv.Itoa(rule)}, k.Newest.Add(time.Microsecond))
		if errors.Is(err, errHeld) {
			s.log.Info("a subject key past its retention max is kept by a legal hold", "kid", k.KID, "tenant_id", k.Tenant, "err", err)
			rep.Held++
			continue
		}
		if err != nil {
			return rep, err
		}
		if e.KID != k.KID || !e.Pending {
			continue // given a later event, or erased and logged meanwhile
		}
		if err := s.logErasure(ctx, e, rule); err != nil {
			return rep, err
		}
		rep.Destroyed = append(rep.Destroyed, e.KID)
	}
	return rep, nil
}

// logErasure appends the privacy.erasure_executed event of erasure e on
// the ledger's own behalf, then marks it logged. rule, if not 0, is the
// retention rule whose max made the key due.
func (s *Server) logErasure(ctx context.Context, e subjectkey.Erasure, rule int) error {
	tags, count, err := s.erasureTags(ctx, e)
	if err != nil {
		return err
	}
	if rule != 0 {
		tags["rule"] = strconv.Itoa(rule)
	}
	if count != nil {
		tags["count"] = strconv.Itoa(*count)
	}
	ev := &event.Event{ID: erasureEventID(e.KID), EventType: ErasureExecutedEventType, Action: "delete", Actor: event.Actor{ID: "ledger", Type: "system"},
		Resource: event.Resource{Type: "subject_key", ID: e.KID}, Result: "success", Source: "retention", Tags: tags}
	entries, err := s.prepare([]*event.Event{ev})
	if err != nil {
		return fmt.Errorf("couldn't build the erasure event: %w", err)
	}
	if _, err := s.cfg.Ledger.Append(ctx, entries); err != nil && !errors.Is(err, ledger.ErrKeyConflict) {
		return fmt.Errorf("the key %s is destroyed, but its erasure event could not be appended (the next run appends it): %w", e.KID, err)
	}
	return s.cfg.SubjectKeys.Logged(ctx, e.KID)
}

// RunShredder runs Shred every interval until ctx is done, logging what
// each run did and its errors.
func (s *Server) RunShredder(ctx context.Context, interval time.Duration) {
	shred := func(ctx context.Context) {
		rep, err := s.Shred(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("shredding the subject keys past their retention max failed", "err", err)
		}
		if len(rep.Destroyed)+len(rep.Completed)+rep.Held > 0 {
			s.log.Info("shredded the subject keys past their retention max", "destroyed", len(rep.Destroyed), "completed", len(rep.Completed), "held", rep.Held)
		}
	}
	shred(ctx)
	every.Run(ctx, interval, shred)
}
