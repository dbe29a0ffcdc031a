package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// plainEvent is Event without its UnmarshalJSON: encoding/json decodes it
// its own (lenient) way, for differential checks.
type plainEvent Event

// decodeStd decodes body as decodeBatch would accept it, with encoding/json.
func decodeStd(body []byte) ([]*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var out []*Event
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] == '[' {
		var evs []plainEvent
		if err := dec.Decode(&evs); err != nil {
			return nil, err
		}
		for i := range evs {
			out = append(out, (*Event)(&evs[i]))
		}
		return out, nil
	}
	for {
		var ev plainEvent
		if err := dec.Decode(&ev); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out = append(out, (*Event)(&ev))
	}
}

// FuzzDecodeBatch checks that decodeBatch never panics and that whatever it
// accepts (1) encoding/json also accepts, with the same values, (2) encodes
// to a leaf that ParseLeaf takes back exactly, (3) redacts idempotently,
// by name and by value.
// decodeBatch checks syntax, not the schema: an accepted event may still
// fail Validate, so that is not asserted.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		minimal, "[" + minimal + "," + minimal + "]", minimal + "\n\n" + minimal + "\n",
		`{"id":"k","timestamp":"2024-05-01T12:00:00.5+02:00","changes":{"a":{"old":{"b":[1,{"password":"x"}],"a":null},"new":1.50e3}},"tags":{"x":"y"}}`,
		`{"reason":"\u00e9\ud83d\ude00\n\"","ip_address":"2001:DB8::1","actor":{"email":"a@b","role":null}}`,
		`[{"action":1},{"ACTOR":{}},{"actor":{"id":"a","id":"b"}}]`,
		`{"changes":{"password":{"old":"s3cret","new":{"token":["t"]}}}}`,
		`{"reason":"card 4111 1111 1111 1111, password=x","tags":{"k":"AKIAIOSFODNN7EXAMPLE"},"changes":{"c":{"new":["123-45-6789",{"x":"Bearer abc.def-123"}]}}}`,
		"", "[]", "[", "{", `{"v":1}`, "{}\n[]", `{"timestamp":"x"}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	lim := Limits{MaxBatch: 50, MaxEventBytes: 4096}
	red := NewRedactor(DefaultRedactKeys, DefaultDetectors...)
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		ctype := "application/json"
		if ndjson {
			ctype = "application/x-ndjson"
		}
		events, single, err := decodeBatch(body, ctype, lim)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != ErrInvalid && e.Kind != ErrTooLarge {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if len(events) == 0 || len(events) > lim.MaxBatch || single && len(events) != 1 {
			t.Fatalf("%d events, single=%v", len(events), single)
		}
		std, err := decodeStd(body)
		if err != nil {
			t.Fatalf("decodeBatch accepted what encoding/json refuses (%v):\n%q", err, body)
		}
		if len(std) != len(events) {
			t.Fatalf("encoding/json found %d events, decodeBatch %d", len(std), len(events))
		}
		for i, ev := range events {
			s := std[i]
			for name, c := range s.Changes {
				var errOld, errNew error
				c.Old, errOld = canonicalValue(c.Old)
				c.New, errNew = canonicalValue(c.New)
				if errOld != nil || errNew != nil {
					t.Fatalf("accepted a change value that is not strict JSON: %v %v", errOld, errNew)
				}
				s.Changes[name] = c
			}
			if !equalEvents(ev, s) {
				t.Fatalf("event %d differs from encoding/json's:\n%#v\n%#v", i, ev, s)
			}

			ev.Normalize(now, NewID)
			if slices.ContainsFunc(ev.Validate(lim), func(fe FieldError) bool { return fe.Field == "timestamp" }) {
				// A year outside 0000-9999 (say 0000-01-01T00:00:00+01:00)
				// has no leaf either: the pipeline refuses it first.
				if _, err := ev.Leaf(); err == nil {
					t.Fatalf("Leaf encoded a timestamp that Validate refuses: %v", ev.Timestamp)
				}
				continue
			}
			leaf := checkLeaf(t, ev)
			if paths := red.Redact(ev); paths != nil {
				leaf = checkLeaf(t, ev)
			}
			if again := red.Redact(ev); again != nil {
				t.Fatalf("second Redact redacted %v", again)
			}
			if l, _ := ev.Leaf(); !bytes.Equal(l, leaf) {
				t.Fatal("second Redact changed the leaf")
			}
			// The same event as the ledger stamps it, in a version 2 leaf.
			ev.ReceivedAt, ev.Submitter = now, TokenSubmitter(ev.ID, "writer", ev.TenantID)
			checkLeaf(t, ev)
		}
	})
}

// checkLeaf encodes ev and checks that ParseLeaf inverts it exactly.
func checkLeaf(t *testing.T, ev *Event) []byte {
	t.Helper()
	leaf, err := ev.Leaf()
	if err != nil {
		t.Fatalf("Leaf of a decoded event: %v", err)
	}
	back, err := ParseLeaf(leaf)
	if err != nil {
		t.Fatalf("ParseLeaf(%s): %v", leaf, err)
	}
	if !equalEvents(back, ev) {
		t.Fatalf("ParseLeaf(Leaf(ev)) != ev:\n%#v\n%#v", back, ev)
	}
	if l2, _ := back.Leaf(); !bytes.Equal(l2, leaf) {
		t.Fatalf("Leaf(ParseLeaf(leaf)) != leaf:\n%s\n%s", leaf, l2)
	}
	if k, err := KeyOf(leaf); err != nil || k != Key(ev.TenantID, ev.ID) {
		t.Fatalf("KeyOf = %q, %v; want %q", k, err, Key(ev.TenantID, ev.ID))
	}
	return leaf
}

// FuzzParseLeaf checks that ParseLeaf never panics and accepts only
// canonical leaves: Leaf of what it returns is its input.
func FuzzParseLeaf(f *testing.F) {
	golden, _ := goldenEvent().Leaf()
	golden2, _ := goldenV2Event().Leaf()
	golden3, err := os.ReadFile("testdata/leaf-v3.golden")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(golden), string(golden2), string(golden3),
		`{"v":3,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"open"},` + vectorMember + `}`, `{"v":1}`, `{"v":1,"id":"k"}`, `{"v":2}`, `{"v":1,"sealed":{}}`,
		`{"v":2,"received_at":"2024-01-01T00:00:00Z","submitter":{"type":"open"}}`,
		`{"v":2,"id":"k","tenant_id":"t","received_at":"2024-01-01T00:00:00.5Z","submitter":{"type":"token","token_id":"a","role":"writer","tenant_id":"t"}}`,
		`{"v":1,"changes":{"c":{"old":{"a":[1,{"b":null}]},"new":"x"}},"tags":{"a":""}}`,
		`{"v":1,"timestamp":"2024-01-01T00:00:00.1Z","reason":"\u0000\n"}`,
		`{"v":1,"actor":{"id":"a","type":"user"},"resource":{"type":"doc"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, leaf []byte) {
		ev, err := ParseLeaf(leaf)
		if err != nil {
			return
		}
		out, err := ev.Leaf()
		if err != nil {
			t.Fatalf("Leaf of a parsed leaf: %v", err)
		}
		if !bytes.Equal(out, leaf) {
			t.Fatalf("ParseLeaf accepted a leaf that Leaf does not reproduce:\n%q\n%q", leaf, out)
		}
		if k, err := KeyOf(leaf); err != nil || k != Key(ev.TenantID, ev.ID) {
			t.Fatalf("KeyOf = %q, %v; want %q", k, err, Key(ev.TenantID, ev.ID))
		}
		if !strings.HasPrefix(string(leaf), fmt.Sprintf(`{"v":%d`, ev.Version())) {
			t.Fatalf("accepted a leaf without its leading version %d: %q", ev.Version(), leaf)
		}
	})
}
