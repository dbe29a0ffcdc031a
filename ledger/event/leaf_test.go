package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

var update = flag.Bool("update", false, "rewrite testdata/leaf.golden")

// goldenEvent has every field set, with characters that need care.
func goldenEvent() *Event {
	e := fullEvent()
	e.TenantID = "tenant/é"
	e.Result = "failure"
	e.FailureReason = "quota exceeded\t(100%)"
	e.Timestamp = time.Date(2024, 5, 1, 14, 30, 0, 123456780, time.FixedZone("", 2*3600))
	e.Changes["notes"] = Change{Old: json.RawMessage(`"line1\nline2 \u00e9 \u2028 </script> \ud83d\ude00"`), New: json.RawMessage("null")}
	e.Changes["limits"] = Change{Old: json.RawMessage(` { "z":1e3 , "a" : [ 1.0, -0, {"y":2,"x":1} ] } `)}
	e.Changes["Édition"] = Change{New: json.RawMessage(`true`)}
	e.Tags["a\"b"] = "quote"
	delete(e.Tags, "a\"b") // tag names are restricted; keep the golden event valid
	return e
}

// goldenV2Event is goldenEvent as the ledger logs it since leaf version 2:
// received at a time of its own, from a writer token of its tenant.
func goldenV2Event() *Event {
	e := goldenEvent()
	e.ReceivedAt = time.Date(2024, 5, 1, 12, 30, 0, 987654321, time.FixedZone("", -5*3600))
	e.Submitter = TokenSubmitter("3f7a1c2b9d0e4f56", "writer", "tenant/é")
	return e
}

// TestLeafGolden checks the leaf of each version against its golden file.
// Version 1's is never rewritten: it is what the ledger wrote before
// version 2, and still reads.
func TestLeafGolden(t *testing.T) {
	for _, tt := range []struct {
		path    string
		ev      *Event
		version int
	}{
		{"testdata/leaf.golden", goldenEvent(), 1},
		{"testdata/leaf-v2.golden", goldenV2Event(), 2},
		{"testdata/leaf-v3.golden", goldenV3Event(t), 3},
	} {
		e := tt.ev
		if problems := e.Validate(Limits{}); len(problems) > 0 {
			t.Fatalf("the golden event is not valid: %v", problems)
		}
		leaf, err := e.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		if *update && tt.version > 1 {
			if err := os.WriteFile(tt.path, leaf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(leaf, want) {
			t.Errorf("leaf\n%s\nwant (%s)\n%s", leaf, tt.path, want)
		}
		back, err := ParseLeaf(want)
		if err != nil || back.Version() != tt.version {
			t.Errorf("ParseLeaf(%s): version %d, %v; want version %d", tt.path, back.Version(), err, tt.version)
		}
	}
}

func TestLeafFormat(t *testing.T) {
	tests := []struct {
		name string
		ev   *Event
		want string
	}{
		{"empty", &Event{}, `{"v":1}`},
		{"order and omission", &Event{Result: "success", Action: "read", ID: "k", Resource: Resource{ID: "r"}, Actor: Actor{Role: "x"}},
			`{"v":1,"id":"k","action":"read","actor":{"role":"x"},"resource":{"id":"r"},"result":"success"}`},
		{"timestamp to UTC, trailing zeros dropped", &Event{Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 100, time.FixedZone("", -3600))},
			`{"v":1,"timestamp":"2024-01-02T04:04:05.0000001Z"}`},
		{"whole seconds", &Event{Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}, `{"v":1,"timestamp":"2024-01-02T03:04:05Z"}`},
		{"escaping", &Event{Reason: "\"\\\b\f\n\r\t\x00\x1f\x7f<>&\u2028é"}, "{\"v\":1,\"reason\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\x7f<>&\u2028é\"}"},
		{"maps sorted", &Event{Tags: map[string]string{"b": "", "a": "1", "B": "2"}, Changes: map[string]Change{"y": {New: json.RawMessage(`2`)}, "x": {Old: json.RawMessage(`1`)}, "": {}}},
			`{"v":1,"changes":{"":{},"x":{"old":1},"y":{"new":2}},"tags":{"B":"2","a":"1","b":""}}`},
		{"change values canonical", &Event{Changes: map[string]Change{"c": {Old: json.RawMessage(" [ {\"b\" : 1.50E+2, \"a\":\"\\u0041\\/\"} , null,true ] "), New: json.RawMessage(`"\ud83d\ude00\u00e9"`)}}},
			`{"v":1,"changes":{"c":{"old":[{"a":"A/","b":1.50E+2},null,true],"new":"😀é"}}}`},
		{"version 2: what the ledger states comes last", &Event{ID: "k", Tags: map[string]string{"a": "1"},
			ReceivedAt: time.Date(2024, 1, 2, 3, 4, 5, 600, time.FixedZone("", 3600)), Submitter: TokenSubmitter("t1", "writer", "")},
			`{"v":2,"id":"k","tags":{"a":"1"},"received_at":"2024-01-02T02:04:05.0000006Z","submitter":{"type":"token","token_id":"t1","role":"writer"}}`},
		{"version 2 in open mode", &Event{ReceivedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Submitter: Submitter{Type: SubmitterOpen}},
			`{"v":2,"received_at":"2024-01-02T03:04:05Z","submitter":{"type":"open"}}`},
		{"keys sorted bytewise", &Event{Changes: map[string]Change{"c": {New: json.RawMessage(`{"é":1,"z":2,"Z":3,"a\"":4,"a":5,"":6}`)}}},
			`{"v":1,"changes":{"c":{"new":{"":6,"Z":3,"a":5,"a\"":4,"z":2,"é":1}}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := tt.ev.Leaf()
			if err != nil {
				t.Fatal(err)
			}
			if string(leaf) != tt.want {
				t.Errorf("leaf\n%s\nwant\n%s", leaf, tt.want)
			}
			ev, err := ParseLeaf(leaf)
			if err != nil {
				t.Fatalf("ParseLeaf: %v", err)
			}
			again, _ := ev.Leaf()
			if !bytes.Equal(again, leaf) {
				t.Errorf("round trip gave\n%s", again)
			}
		})
	}
}

func TestLeafDeterministic(t *testing.T) {
	first, err := goldenEvent().Leaf()
	if err != nil {
		t.Fatal(err)
	}
	for range 50 { // map iteration order differs from run to run
		leaf, _ := goldenEvent().Leaf()
		if !bytes.Equal(leaf, first) {
			t.Fatalf("leaf changed:\n%s\n%s", first, leaf)
		}
	}
	// The same content in another key order, spacing and escaping.
	e := goldenEvent()
	e.Changes["limits"] = Change{Old: json.RawMessage(`{"a":[1.0,-0,{"x":1,"y":2}],"z":1e3}`)}
	e.Changes["notes"] = Change{Old: json.RawMessage("\"line1\\nline2 é \u2028 <\\/script> 😀\""), New: json.RawMessage(" null")}
	e.Timestamp = e.Timestamp.UTC()
	if leaf, _ := e.Leaf(); !bytes.Equal(leaf, first) {
		t.Errorf("an equal event gave another leaf:\n%s\n%s", first, leaf)
	}
	// Decoding the leaf as a request, in any member order, gives the same leaf.
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(first))
	dec.UseNumber() // numbers stay verbatim
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	delete(m, "v")
	body, _ := json.Marshal(m) // sorted keys, HTML escaped: other bytes, same event
	events, _, err := decodeBatch(body, "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if leaf, _ := events[0].Leaf(); !bytes.Equal(leaf, first) {
		t.Errorf("re-decoded event gave another leaf:\n%s\n%s", first, leaf)
	}
}

func TestParseLeafRoundTrip(t *testing.T) {
	leaf, err := goldenEvent().Leaf()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ParseLeaf(leaf)
	if err != nil {
		t.Fatal(err)
	}
	want := goldenEvent()
	want.Normalize(time.Time{}, nil)
	for name, c := range want.Changes { // ParseLeaf returns canonical values
		c.Old, _ = canonicalValue(c.Old)
		c.New, _ = canonicalValue(c.New)
		want.Changes[name] = c
	}
	if !equalEvents(ev, want) {
		t.Errorf("ParseLeaf gave\n%#v\nwant\n%#v", ev, want)
	}
	again, _ := ev.Leaf()
	if !bytes.Equal(again, leaf) {
		t.Errorf("Leaf(ParseLeaf(leaf)) differs:\n%s\n%s", leaf, again)
	}
}

func canonicalValue(v json.RawMessage) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	var p parser
	p.reset(v)
	return p.whole(nil)
}

func TestParseLeafRejects(t *testing.T) {
	tests := []struct{ name, leaf, msg string }{
		{"empty", ``, "expected an event"},
		{"no version", `{"id":"k"}`, `no "v" member`},
		{"version 2 without stamps", `{"v":2,"id":"k"}`, "version 2 without received_at and submitter"},
		{"version 3 without sealed", `{"v":3,"id":"k"}`, `version 3 without a "sealed" member`},
		{"version 4", `{"v":4,"id":"k"}`, "unsupported leaf version 4"},
		{"sealed in version 2", `{"v":2,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"open"},"sealed":{"kid":"5f3c1e9a0b2d4f6e8a1c3e5f7a9b0d2c","nonce":"oKGio6Slpqeoqaqr","ct":"JJknJXr4omtdytPk3UxEIYQfY02i2dwT"}}`, "in leaves of version 3 only"},
		{"sealed kid uppercase", `{"v":3,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"open"},"sealed":{"kid":"5F3C1E9A0B2D4F6E8A1C3E5F7A9B0D2C","nonce":"oKGio6Slpqeoqaqr","ct":"JJknJXr4omtdytPk3UxEIYQfY02i2dwT"}}`, "sealed.kid: must be 32 lowercase hex digits"},
		{"sealed short nonce", `{"v":3,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"open"},"sealed":{"kid":"5f3c1e9a0b2d4f6e8a1c3e5f7a9b0d2c","nonce":"oKGio6Slpqeo","ct":"JJknJXr4omtdytPk3UxEIYQfY02i2dwT"}}`, "sealed.nonce: must be 12 bytes"},
		{"sealed unpadded ct", `{"v":3,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"open"},"sealed":{"kid":"5f3c1e9a0b2d4f6e8a1c3e5f7a9b0d2c","nonce":"oKGio6Slpqeoqaqr","ct":"JJknJXr4omtdytPk3UxEIYQfY02i2d"}}`, "sealed.ct: must be a ciphertext"},
		{"sealed before submitter", `{"v":3,"received_at":"2024-01-01T00:00:00Z","sealed":{"kid":"5f3c1e9a0b2d4f6e8a1c3e5f7a9b0d2c","nonce":"oKGio6Slpqeoqaqr","ct":"JJknJXr4omtdytPk3UxEIYQfY02i2dwT"},"submitter":{"type":"open"}}`, "not in canonical form"},
		{"version 1 with received_at", `{"v":1,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"open"}}`, "not in canonical form"},
		{"version 2 without submitter", `{"v":2,"received_at":"2024-01-01T00:00:00Z"}`, "submitter.type must be one of"},
		{"version 2 without received_at", `{"v":2,"submitter":{"type":"open"}}`, "needs received_at"},
		{"unknown submitter type", `{"v":2,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"root"}}`, "submitter.type must be one of"},
		{"token without id", `{"v":2,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"token","role":"writer"}}`, "has a token_id and a role"},
		{"open with a token", `{"v":2,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"open","token_id":"t"}}`, "has no token_id"},
		{"submitter member unknown", `{"v":2,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"open","secret":"x"}}`, "submitter.secret: unknown field"},
		{"received_at not UTC", `{"v":2,"received_at":"2024-01-01T01:00:00+01:00","submitter":{"type":"open"}}`, "not in canonical form"},
		{"stamps first", `{"v":2,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"open"},"id":"k"}`, "not in canonical form"},
		{"submitter members out of order", `{"v":2,"received_at":"2024-01-01T00:00:00Z","submitter":{"role":"writer","type":"token","token_id":"t"}}`, "not in canonical form"},
		{"version as string", `{"v":"1"}`, "invalid"},
		{"version 1.0", `{"v":1.0}`, "unsupported leaf version 1.0"},
		{"version not first", `{"id":"k","v":1}`, "not in canonical form"},
		{"whitespace", `{"v":1, "id":"k"}`, "not in canonical form"},
		{"trailing newline", "{\"v\":1}\n", "unexpected data"},
		{"field order", `{"v":1,"action":"a","id":"k"}`, "not in canonical form"},
		{"unsorted tags", `{"v":1,"tags":{"b":"1","a":"2"}}`, "not in canonical form"},
		{"unsorted change value", `{"v":1,"changes":{"c":{"new":{"b":1,"a":2}}}}`, "not in canonical form"},
		{"null member", `{"v":1,"id":null}`, "not in canonical form"},
		{"empty member", `{"v":1,"id":""}`, "not in canonical form"},
		{"empty actor", `{"v":1,"actor":{}}`, "not in canonical form"},
		{"empty tags", `{"v":1,"tags":{}}`, "not in canonical form"},
		{"escaped slash", `{"v":1,"reason":"a\/b"}`, "not in canonical form"},
		{"uppercase hex escape", `{"v":1,"reason":"\u001F"}`, "not in canonical form"},
		{"escaped letter", `{"v":1,"reason":"\u0041"}`, "not in canonical form"},
		{"offset timestamp", `{"v":1,"timestamp":"2024-01-01T01:00:00+01:00"}`, "not in canonical form"},
		{"trailing zero", `{"v":1,"timestamp":"2024-01-01T00:00:00.10Z"}`, "not in canonical form"},
		{"sealed", `{"v":3,"sealed":{"alg":"A256GCM"}}`, "sealed.alg: unknown field"},
		{"unknown field", `{"v":1,"extra":1}`, "extra: unknown field"},
		{"duplicate", `{"v":1,"id":"a","id":"b"}`, "id: duplicate field"},
		{"bad JSON", `{"v":1,`, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseLeaf([]byte(tt.leaf))
			if err == nil {
				t.Fatalf("ParseLeaf accepted %s as %+v", tt.leaf, ev)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}

func TestLeafErrors(t *testing.T) {
	big := &Event{Reason: strings.Repeat("x", MaxLeafBytes)}
	if _, err := big.Leaf(); !errors.Is(err, ErrLeafTooLarge) {
		t.Errorf("oversized leaf: err = %v, want ErrLeafTooLarge", err)
	}
	fits := &Event{Reason: strings.Repeat("x", MaxLeafBytes-len(`{"v":1,"reason":""}`))}
	if leaf, err := fits.Leaf(); err != nil || len(leaf) != MaxLeafBytes {
		t.Errorf("leaf of exactly MaxLeafBytes: %d bytes, %v", len(leaf), err)
	}
	for _, e := range []*Event{
		{Reason: "a\xffb"},
		{Tags: map[string]string{"k\xff": "v"}},
		{Changes: map[string]Change{"c": {New: json.RawMessage(`{`)}}},
		{Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if leaf, err := e.Leaf(); err == nil {
			t.Errorf("Leaf of %+v = %s, want an error", e, leaf)
		}
	}
	if MaxLeafBytes != tiles.MaxEntrySize {
		t.Errorf("MaxLeafBytes %d, tiles.MaxEntrySize %d", MaxLeafBytes, tiles.MaxEntrySize)
	}
}

func TestKeyOf(t *testing.T) {
	e := goldenEvent()
	for _, c := range []struct {
		id, tenant, want string
		noTime           bool
	}{
		{id: "e-1", want: "e-1"},
		{id: "e-1", tenant: "acme", want: "acme\x00e-1"},
		{id: "e-1", tenant: "acme", want: "acme\x00e-1", noTime: true},
		{id: "", tenant: "acme", want: ""},
		{id: `we"ird`, tenant: "acme", want: "acme\x00we\"ird"},
		{id: "e-1", tenant: `te"nant`, want: "te\"nant\x00e-1"},
		{id: "e-1", tenant: `te"nant`, want: "te\"nant\x00e-1", noTime: true},
	} {
		e.ID, e.TenantID = c.id, c.tenant
		e.Timestamp = goldenEvent().Timestamp
		if c.noTime {
			e.Timestamp = time.Time{}
		}
		leaf, _ := e.Leaf()
		if k, err := KeyOf(leaf); err != nil || k != c.want || k != Key(c.tenant, c.id) {
			t.Errorf("KeyOf(%s) = %q, %v; want %q", leaf, k, err, c.want)
		}
	}
	if _, err := KeyOf([]byte(`key|payload`)); err == nil {
		t.Error("KeyOf accepted a leaf that is not an event")
	}
}

func TestEventJSON(t *testing.T) {
	// The API returns events with encoding/json; they decode back strictly,
	// what the ledger stamps included.
	for _, e := range []*Event{goldenEvent(), goldenV2Event()} {
		e.Normalize(time.Time{}, nil)
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		l1, _ := e.Leaf()
		l2, _ := back.Leaf()
		if !bytes.Equal(l1, l2) {
			t.Errorf("JSON round trip changed the leaf:\n%s\n%s", l1, l2)
		}
	}
	if b, _ := json.Marshal(&Event{}); string(b) != `{}` {
		t.Errorf("empty event marshals to %s", b)
	}
}
