package evidence

import (
	"encoding/json"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
)

// FuzzRow checks the events.ndjson line parser: it never panics, and a
// line it accepts has a leaf hash that is its leaf's, no proof, and an
// event that is null or the leaf's own, or with an event key the leaf's
// with its sealed members opened.
func FuzzRow(f *testing.F) {
	leaf := []byte(`{"v":1,"id":"e1","timestamp":"2026-01-02T03:04:05.123456789Z","action":"read","actor":{"id":"u1","type":"user"},"resource":{"type":"doc"},"result":"success","changes":{"n":{"old":1.5e3,"new":null}}}`)
	ev := `{"id":"e1","timestamp":"2026-01-02T03:04:05.123456789Z","action":"read","actor":{"id":"u1","type":"user"},"resource":{"type":"doc"},"result":"success","changes":{"n":{"old":1.5e3,"new":null}}}`
	row, _ := json.Marshal(map[string]any{"index": 7, "leaf_hash": tiles.LeafHash(leaf).String(), "leaf": leaf, "event": json.RawMessage(ev)})
	f.Add(row)
	f.Add([]byte(`{"index":0,"leaf_hash":"` + tiles.LeafHash([]byte("x")).String() + `","leaf":"eA==","event":null}`))
	f.Add([]byte(`{"index":1,"leaf_hash":"","leaf":"","event":{},"extra":1}`))
	f.Add([]byte(`{"index":0,"leaf_hash":"` + tiles.LeafHash([]byte("x")).String() + `","leaf":"eA==","event":null,"proof":"p"}`))
	sealedLeaf, ek, shown := openedGolden(f)
	f.Add(rowLine(f, sealedLeaf, shown, ek))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseRow(line, true)
		if err != nil {
			return
		}
		if tiles.LeafHash(r.Leaf).String() != r.LeafHash || r.Proof != "" {
			t.Fatalf("accepted a leaf hash that is not the leaf's, or a proof: %s", line)
		}
		if r.EventKey == nil && string(r.Event) != "null" && sameEvent(r.Leaf, r.Event) != nil || r.EventKey != nil && sameOpenedEvent(r.Leaf, r.Event, r.EventKey) != nil {
			t.Fatalf("accepted an event that is not the leaf's: %s", line)
		}
	})
}

// FuzzManifest checks the manifest parser: it never panics, and a manifest
// it accepts has the right format and a sensible range.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(`{"format":"ledger-export/v1","origin":"example.com/log","tree_size":10,"root_hash":"x","created":"2026-01-01T00:00:00Z","count":2,"range":{"from":3,"to":5}}`))
	f.Add([]byte(`{"format":"ledger-export/v1","origin":"o","tree_size":1,"root_hash":"","created":"2026-01-01T00:00:00.5+01:00","count":0,"filters":{"actor_id":"a"}}`))
	f.Add([]byte(`{"format":"ledger-export/v2"} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err != nil {
			return
		}
		if m.Format != Format && m.Format != FormatKeys || (m.Range != nil && (m.Range.From >= m.Range.To || m.Range.To > m.TreeSize)) {
			t.Fatalf("accepted manifest %+v", m)
		}
	})
}
