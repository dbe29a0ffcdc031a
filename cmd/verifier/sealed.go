package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ledger-dev/ledger/tiles"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// erasureEventType is the event a ledger appends when it destroys a data
// subject's key; its tag kid names the key. Only the ledger itself
// (submitter type "ledger") writes events of the privacy. namespace.
const erasureEventType = "privacy.erasure_executed"

// sealedLeaf is what the verifier reads of a ledger's leaf, as plain JSON
// (the proof covers the leaf's bytes, not the event's schema): the sealed
// member of version 3, and what makes a leaf an erasure event.
type sealedLeaf struct {
	EventType string `json:"event_type"`
	Sealed    *struct {
		KID string `json:"kid"`
	} `json:"sealed"`
	Tags      map[string]string `json:"tags"`
	Submitter struct {
		Type string `json:"type"`
	} `json:"submitter"`
}

// readSealedLeaf reads entry as a ledger's leaf; false for an entry that is
// not a JSON object.
func readSealedLeaf(entry []byte) (sealedLeaf, bool) {
	var l sealedLeaf
	if len(entry) == 0 || entry[0] != '{' || json.Unmarshal(entry, &l) != nil {
		return sealedLeaf{}, false
	}
	return l, true
}

// erasedKID is the key an erasure event says was destroyed, or "".
func (l sealedLeaf) erasedKID() string {
	if l.EventType != erasureEventType || l.Submitter.Type != "ledger" {
		return ""
	}
	return l.Tags["kid"]
}

// ledgerSaysErased asks the ledger for its event at index (GET
// /v1/events/{index}) and reports whether it answers the event's sealed
// members as erased. The answer must hold the entry the proof verified:
// the ledger's claim is about that leaf. A ledger that has pruned the event
// cannot say, and the report says so.
func ledgerSaysErased(ctx context.Context, r *report, ledger tiles.Fetcher, index uint64, entry []byte) (bool, error) {
	b, err := ledger.Fetch(ctx, "v1/events/"+strconv.FormatUint(index, 10))
	if errors.Is(err, tiles.ErrPruned) {
		r.ok("ledger", fmt.Sprintf("the ledger has pruned entry %d (%v): it no longer says whether its payload is erased", index, err), nil)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("couldn't ask the ledger about entry %d: %w", index, err)
	}
	var answer struct {
		Leaf  []byte `json:"leaf"`
		Event struct {
			Sealed json.RawMessage `json:"sealed"`
		} `json:"event"`
	}
	if err := json.Unmarshal(b, &answer); err != nil {
		return false, fmt.Errorf("the ledger's answer for entry %d is not an event: %v", index, err)
	}
	if !bytes.Equal(answer.Leaf, entry) {
		return false, fmt.Errorf("the ledger answers another leaf for entry %d than the proof's", index)
	}
	return string(answer.Event.Sealed) == `"erased"`, nil
}

// checkSealed reports the sealed members of a leaf of version 3: the proof
// covers their ciphertext, and so holds whether or not the data subject's
// key still exists. With erased (the ledger's answer for the event said
// so), it says the payload is erased; otherwise the verifier cannot know,
// and says the members are sealed.
func checkSealed(r *report, entry []byte, erased bool) {
	l, ok := readSealedLeaf(entry)
	if !ok || l.Sealed == nil {
		return
	}
	kid := l.Sealed.KID
	if erased {
		r.ok("sealed", "inclusion verified; payload erased (the ledger destroyed subject key "+kid+
			": the sealed members can never be opened again; the proof covers their ciphertext)", map[string]any{"kid": kid, "erased": true})
		return
	}
	r.ok("sealed", "inclusion verified; members of the event are sealed under subject key "+kid+
		" (the proof covers their ciphertext, whether or not the key still exists)", map[string]any{"kid": kid, "erased": false})
}

// sealedEntries counts, over an audit, the entries sealed under each
// subject key and the keys that the log's own erasure events say were
// destroyed. It is safe for concurrent use.
type sealedEntries struct {
	mu     sync.Mutex
	byKID  map[string]uint64   // entries sealed under each key
	erased map[string][]uint64 // destroyed keys, with the indexes of their erasure events
}

func newSealedEntries() *sealedEntries {
	return &sealedEntries{byKID: map[string]uint64{}, erased: map[string][]uint64{}}
}

// add reads the entry at index, as tiles.AuditOptions.Entry is called.
func (s *sealedEntries) add(index uint64, entry []byte) {
	if len(entry) == 0 || entry[0] != '{' || !bytes.Contains(entry, []byte(`"sealed"`)) && !bytes.Contains(entry, []byte(erasureEventType)) {
		return // most entries: no JSON decoding
	}
	l, ok := readSealedLeaf(entry)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.Sealed != nil {
		s.byKID[l.Sealed.KID]++
	}
	if kid := l.erasedKID(); kid != "" {
		s.erased[kid] = append(s.erased[kid], index)
	}
}

// report says how many audited entries are sealed and, of those, how many
// are under keys the log records as destroyed: verified, with their
// payload erased. It says nothing for a log with no sealed entry.
func (s *sealedEntries) report(r *report) {
	var sealed, erased uint64
	var erasedKIDs []string
	for kid, n := range s.byKID {
		sealed += n
		if _, ok := s.erased[kid]; ok {
			erased += n
			erasedKIDs = append(erasedKIDs, kid)
		}
	}
	if sealed == 0 {
		return
	}
	sort.Strings(erasedKIDs)
	data := map[string]any{"sealed": sealed, "keys": len(s.byKID), "erased": erased, "erased_keys": erasedKIDs}
	detail := fmt.Sprintf("%d entries hold members sealed under %d subject keys; inclusion verified for all", sealed, len(s.byKID))
	if erased > 0 {
		var at []string
		for _, kid := range erasedKIDs {
			at = append(at, fmt.Sprintf("%s (entry %d)", kid, s.erased[kid][0]))
		}
		detail += fmt.Sprintf("; payload erased for %d of them, whose keys the log's %s events record as destroyed: %s",
			erased, erasureEventType, strings.Join(at, ", "))
	}
	r.ok("sealed", detail, data)
}
