package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/ledger-dev/ledger/tiles"
)

// Row is one entry of the log as a ledger shows it: a line of
// events.ndjson, of an NDJSON export (GET /v1/export), and an element of a
// query answer's "events" (GET /v1/events).
type Row struct {
	// Index is the entry's index in the log.
	Index uint64 `json:"index"`
	// LeafHash is the entry's leaf hash, base64.
	LeafHash string `json:"leaf_hash"`
	// Leaf is the entry's bytes: the only part of the row a proof covers.
	Leaf []byte `json:"leaf"`
	// Event is the event the leaf encodes, or null (a nil Event) for a leaf
	// that is not an event.
	Event json.RawMessage `json:"event"`
	// EventKey, in a row whose event shows its sealed members opened
	// ("sealed": "open"), is the key that opens them (an event key, never
	// the subject's key): a checker opens the leaf's ciphertext with it and
	// compares the members shown with what the leaf committed to.
	EventKey []byte `json:"event_key,omitempty"`
	// Proof is the row's c2sp.org/tlog-proof@v1 in a query answer asked
	// for with proof=true. It is empty in an export and in a package,
	// which holds its proofs in files.
	Proof string `json:"proof,omitempty"`
}

// parseRow strictly decodes a line of events.ndjson and checks that its
// leaf hash and its event agree with its leaf, the sealed members opened
// with its event key if it has one, which only a package of FormatKeys may
// (keys). It returns the row and an error for a row that decodes but fails
// a check, and no row for a line that does not decode.
func parseRow(line []byte, keys bool) (*Row, error) {
	var r Row
	if err := decodeStrict(line, &r); err != nil {
		return nil, err
	}
	if r.Proof != "" {
		return &r, fmt.Errorf("entry %d: its row carries a proof; a package's proofs are in %s/", r.Index, proofsDir)
	}
	if got := tiles.LeafHash(r.Leaf).String(); got != r.LeafHash {
		return &r, fmt.Errorf("entry %d: its leaf hashes to %s, not to its leaf_hash %s", r.Index, got, r.LeafHash)
	}
	var err error
	switch {
	case r.EventKey == nil:
		err = sameEvent(r.Leaf, r.Event)
	case !keys:
		err = fmt.Errorf("its row carries an event key, which a package of format %s does not", Format)
	default:
		err = sameOpenedEvent(r.Leaf, r.Event, r.EventKey)
	}
	if err != nil {
		return &r, fmt.Errorf("entry %d: %w", r.Index, err)
	}
	return &r, nil
}

// sameEvent checks that the event shown is the one the leaf encodes: the
// leaf is the event's JSON with a "v" version member. A null event (shown
// for a leaf that is not an event) claims nothing.
func sameEvent(leaf []byte, ev json.RawMessage) error {
	if string(ev) == "null" {
		return nil
	}
	var fromLeaf map[string]any
	if err := decodeNumbers(leaf, &fromLeaf); err != nil || fromLeaf == nil {
		return errors.New("its leaf is not an event, but an event is shown")
	}
	delete(fromLeaf, "v")
	var shown map[string]any
	if err := decodeNumbers(ev, &shown); err != nil {
		return fmt.Errorf("its event is not a JSON object: %w", err)
	}
	if !reflect.DeepEqual(fromLeaf, shown) {
		return errors.New("the event shown differs from the event in its leaf")
	}
	return nil
}

// decodeNumbers decodes JSON keeping numbers as written, so that 45 and
// 4.5e1 differ as they do in the leaf's bytes.
func decodeNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}
