package httpapi

import (
	"context"
	"errors"
	"log/slog"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
)

// The values of the "sealed" member of an event in an answer, in place of
// the ciphertext: SealedOpen when the sealed members were opened and are
// shown in clear, SealedErased when the subject's key was destroyed, so
// that they can never be shown again.
const (
	SealedOpen   = "open"
	SealedErased = "erased"
)

// shownEvent is an event as answered to a caller allowed to read it. Its
// Sealed member, shallower than the event's, replaces it in the JSON.
type shownEvent struct {
	*event.Event
	// Sealed is SealedOpen, SealedErased, the event's *event.Sealed when
	// this server cannot open it, or nil for an event that was not sealed.
	Sealed any `json:"sealed,omitempty"`
	// eventKey is the key that opens this event's sealed members (see
	// event.Event.EventKey), for an unsealer asked for keys and an event
	// it opened.
	eventKey []byte
}

// unsealer opens the sealed events of one answer with the subject keys,
// reading each key once.
type unsealer struct {
	ctx  context.Context
	keys subjectkey.Store
	log  *slog.Logger
	seen map[string]keyResult
	// eventKeys asks show for the event key of each event it opens.
	eventKeys bool
}

// keyResult is a subject key, or why it could not be had.
type keyResult struct {
	key []byte
	err error
}

// unsealer returns the unsealer of one answer.
func (s *Server) unsealer(ctx context.Context) *unsealer {
	u := &unsealer{ctx: ctx, log: s.log, seen: map[string]keyResult{}}
	if s.cfg.Seal != nil {
		u.keys = s.cfg.SubjectKeys
	}
	return u
}

// show opens ev in place when it is sealed and its subject's key exists,
// and returns it as answered. Without subject keys (sealing not
// configured), or for a key this server never held or that does not open
// the event, the ciphertext is shown as it is in the leaf. Any other
// failure to read a key is returned: the answer cannot be made.
func (u *unsealer) show(ev *event.Event) (shownEvent, error) {
	if ev.Sealed == nil {
		return shownEvent{Event: ev}, nil
	}
	if u.keys == nil {
		return shownEvent{Event: ev, Sealed: ev.Sealed}, nil
	}
	kid := ev.Sealed.KID
	k, ok := u.seen[kid]
	if !ok {
		k.key, k.err = u.keys.Open(u.ctx, kid)
		u.seen[kid] = k
	}
	switch {
	case errors.Is(k.err, subjectkey.ErrErased):
		// The ciphertext is left out: nothing can open it, and the leaf
		// bytes beside the event still hold it for proofs.
		return shownEvent{Event: ev, Sealed: SealedErased}, nil
	case errors.Is(k.err, subjectkey.ErrUnknownKey):
		return shownEvent{Event: ev, Sealed: ev.Sealed}, nil
	case k.err != nil:
		return shownEvent{}, k.err
	}
	var ek []byte
	if u.eventKeys {
		var err error
		if ek, err = ev.EventKey(k.key); err != nil {
			return shownEvent{}, err
		}
	}
	if err := ev.Open(k.key); err != nil {
		// The leaf verifies or not on its own; a key that does not open it
		// is a key file that does not belong to this log, or a changed leaf.
		u.log.Warn("a sealed event does not open with its subject key; answered sealed", "id", ev.ID, "kid", kid, "err", err)
		return shownEvent{Event: ev, Sealed: ev.Sealed}, nil
	}
	return shownEvent{Event: ev, Sealed: SealedOpen, eventKey: ek}, nil
}
