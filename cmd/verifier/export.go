package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"

	"github.com/ledger-dev/ledger/tiles"
)

// exportFormat is the format an evidence package's manifest must name.
const exportFormat = "ledger-export/v1"

// exportManifest is manifest.json of an evidence package written by
// `ledger export`.
type exportManifest struct {
	Format   string            `json:"format"`
	Origin   string            `json:"origin"`
	TreeSize uint64            `json:"tree_size"`
	RootHash string            `json:"root_hash"`
	Created  string            `json:"created"`
	Count    int               `json:"count"`
	Filters  map[string]string `json:"filters"`
	Range    *struct {
		From uint64 `json:"from"`
		To   uint64 `json:"to"`
	} `json:"range"`
}

// exportEvent is one line of events.ndjson.
type exportEvent struct {
	Index    uint64          `json:"index"`
	LeafHash string          `json:"leaf_hash"`
	Leaf     []byte          `json:"leaf"`
	Event    json.RawMessage `json:"event"`
}

// maxReportedFailures bounds the failing events listed one by one.
const maxReportedFailures = 20

// decodeStrict decodes one JSON value from data, refusing unknown members
// and anything after the value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// parseManifest strictly decodes manifest.json.
func parseManifest(data []byte) (*exportManifest, error) {
	var m exportManifest
	if err := decodeStrict(data, &m); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if m.Format != exportFormat {
		return nil, fmt.Errorf("manifest.json: format %q, want %q", m.Format, exportFormat)
	}
	if m.Range != nil && (m.Range.To <= m.Range.From || m.Range.To > m.TreeSize) {
		return nil, fmt.Errorf("manifest.json: range [%d, %d) is empty or beyond the tree size %d", m.Range.From, m.Range.To, m.TreeSize)
	}
	return &m, nil
}

// parseExportEvent strictly decodes a line of events.ndjson and checks that
// its leaf hash and its event agree with its leaf.
func parseExportEvent(line []byte) (*exportEvent, error) {
	var e exportEvent
	if err := decodeStrict(line, &e); err != nil {
		return nil, err
	}
	if got := tiles.LeafHash(e.Leaf).String(); got != e.LeafHash {
		return &e, fmt.Errorf("entry %d: its leaf hashes to %s, not to its leaf_hash %s", e.Index, got, e.LeafHash)
	}
	if err := sameEvent(e.Leaf, e.Event); err != nil {
		return &e, fmt.Errorf("entry %d: %w", e.Index, err)
	}
	return &e, nil
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
		return fmt.Errorf("its event is not a JSON object: %v", err)
	}
	if !reflect.DeepEqual(fromLeaf, shown) {
		return errors.New("the event shown differs from the event in its leaf")
	}
	return nil
}

func decodeNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

func cmdExport(_ context.Context, args []string, r *report) error {
	o := newOptions("export", false)
	pos, _, p, err := o.setup(args, r)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want exactly one package DIR", errUsage)
	}
	dir := pos[0]
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	m, err := parseManifest(raw)
	if err != nil {
		return err
	}
	note, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return err
	}
	sc, ok := verifyCheckpoint(r, p, note, "checkpoint")
	if !ok {
		return nil
	}
	if sc.Origin != m.Origin || sc.Size != m.TreeSize || sc.Hash.String() != m.RootHash {
		return fmt.Errorf("the manifest names %s size %d root %s, but the checkpoint is %s size %d root %s",
			m.Origin, m.TreeSize, m.RootHash, sc.Origin, sc.Size, sc.Hash)
	}
	seen, err := checkExportEvents(dir, note, sc, r)
	if err != nil {
		return err
	}
	if len(seen) != m.Count {
		return fmt.Errorf("the package holds %d events, but its manifest says %d", len(seen), m.Count)
	}
	if m.Range != nil {
		return checkRange(r, seen, m.Range.From, m.Range.To)
	}
	return nil
}

// checkExportEvents checks every event of the package and its proof, and
// returns the indexes seen. Problems are reported one by one, up to
// maxReportedFailures, then counted.
func checkExportEvents(dir string, note []byte, sc *tiles.SignedCheckpoint, r *report) (map[uint64]bool, error) {
	f, err := os.Open(filepath.Join(dir, "events.ndjson"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
	seen := map[uint64]bool{}
	failed := 0
	fail := func(err error) {
		if failed++; failed <= maxReportedFailures {
			r.fail("event", err)
		}
	}
	for line := 1; lines.Scan(); line++ {
		e, err := parseExportEvent(lines.Bytes())
		if e == nil {
			return nil, fmt.Errorf("events.ndjson line %d: %w", line, err)
		}
		if seen[e.Index] {
			fail(fmt.Errorf("entry %d appears twice", e.Index))
			continue
		}
		seen[e.Index] = true
		if err == nil {
			err = checkExportProof(dir, note, sc, e)
		}
		if err != nil {
			fail(err)
		}
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("couldn't read events.ndjson: %w", err)
	}
	if failed > 0 {
		return nil, fmt.Errorf("%d of %d events failed their checks", failed, len(seen))
	}
	r.ok("events", fmt.Sprintf("all %d events match their leaves, and each leaf is in the tree of size %d", len(seen), sc.Size),
		map[string]any{"events": len(seen)})
	return seen, nil
}

// checkExportProof checks an event's tlog-proof file: for its index,
// against the package's checkpoint, carrying its leaf (if any extra data),
// and proving the leaf's inclusion.
func checkExportProof(dir string, note []byte, sc *tiles.SignedCheckpoint, e *exportEvent) error {
	raw, err := os.ReadFile(filepath.Join(dir, "proofs", strconv.FormatUint(e.Index, 10)+".tlog-proof"))
	if err != nil {
		return fmt.Errorf("entry %d: no proof: %w", e.Index, err)
	}
	proof, err := tiles.ParseProof(raw)
	switch {
	case err != nil:
		return fmt.Errorf("entry %d: %w", e.Index, err)
	case proof.Index != e.Index:
		return fmt.Errorf("entry %d: its proof is for index %d", e.Index, proof.Index)
	case proof.Extra != nil && !bytes.Equal(proof.Extra, e.Leaf):
		return fmt.Errorf("entry %d: its proof carries another leaf (%s)", e.Index, base64.StdEncoding.EncodeToString(proof.Extra))
	case !bytes.Equal(proof.Checkpoint, note):
		return fmt.Errorf("entry %d: its proof is against another checkpoint than the package's", e.Index)
	}
	return tiles.VerifyInclusion(tiles.LeafHash(e.Leaf), e.Index, sc.Size, proof.Hashes, sc.Hash)
}

// checkRange checks that the package holds exactly the entries of [from, to).
func checkRange(r *report, seen map[uint64]bool, from, to uint64) error {
	var missing []uint64
	for i := from; i < to && len(missing) < maxReportedFailures; i++ {
		if !seen[i] {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the range %d to %d is incomplete: entries %v... are missing", from, to-1, missing)
	}
	for i := range seen {
		if i < from || i >= to {
			return fmt.Errorf("entry %d is outside the range %d to %d", i, from, to-1)
		}
	}
	r.ok("range", fmt.Sprintf("every entry from %d to %d is in the package and proven: nothing in the range was left out", from, to-1),
		map[string]any{"from": from, "to": to})
	return nil
}
