package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// leafTimes are the times an audit event's leaf states: its own timestamp
// and, from leaf version 2, when the ledger received it. The leaf is read
// as plain JSON: the verifier checks what the proof covers (the leaf's
// bytes), not the event's schema.
type leafTimes struct {
	Timestamp  time.Time `json:"timestamp"`
	ReceivedAt time.Time `json:"received_at"`
}

// checkTimes reports the bounds a verified proof puts on when the entry
// existed: received by the ledger at R (the leaf's received_at), and
// existed by W (the earliest verified cosignature of the checkpoint that
// includes it; a cosignature's time is in whole seconds, so the bound is
// the second after W). It fails an event whose own timestamp is after that
// bound, or more than skew after R, and a receive time after the bound:
// neither can be true. A
// leaf that is not an event's says nothing and is passed over.
func checkTimes(r *report, entry []byte, sc *tiles.SignedCheckpoint, skew time.Duration) {
	var lt leafTimes
	if json.Unmarshal(entry, &lt) != nil || lt.Timestamp.IsZero() {
		return
	}
	const f = time.RFC3339Nano
	if !lt.ReceivedAt.IsZero() {
		r.ok("received", "the ledger received the event at "+lt.ReceivedAt.UTC().Format(f)+" (the leaf's received_at, covered by the proof)",
			map[string]any{"received_at": lt.ReceivedAt})
	}
	var w time.Time
	for _, c := range sc.Cosignatures {
		if w.IsZero() || c.Time.Before(w) {
			w = c.Time
		}
	}
	if w.IsZero() {
		r.ok("witnessed", "no witness cosignature on the checkpoint: only the log itself says when the entry existed", nil)
	} else {
		r.ok("witnessed", "the entry existed by "+w.UTC().Format(f)+" (the earliest cosignature of the checkpoint that includes it)",
			map[string]any{"existed_by": w})
	}
	// A cosignature's time is in whole seconds, cut down: the witness
	// signed before W plus a second.
	by := w.Add(time.Second)
	ts := lt.Timestamp
	switch {
	case !w.IsZero() && ts.After(by):
		r.fail("timestamp", fmt.Errorf("the event's timestamp %s is after %s, by which witnesses saw the entry in the log: it cannot be when the event happened",
			ts.UTC().Format(f), by.UTC().Format(f)))
	case !lt.ReceivedAt.IsZero() && ts.After(lt.ReceivedAt.Add(skew)):
		r.fail("timestamp", fmt.Errorf("the event's timestamp %s is more than %s after the ledger received it (%s): the sender's clock was wrong, or the timestamp is not true",
			ts.UTC().Format(f), skew, lt.ReceivedAt.UTC().Format(f)))
	default:
		r.ok("timestamp", "the event's timestamp "+ts.UTC().Format(f)+" is within the bounds", nil)
	}
	if !w.IsZero() && lt.ReceivedAt.After(by) {
		r.fail("received", fmt.Errorf("the leaf says the ledger received the event at %s, after witnesses saw it in the log at %s",
			lt.ReceivedAt.UTC().Format(f), by.UTC().Format(f)))
	}
}
