package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

// FuzzEventReader: any input is read as events or refused with errInput,
// never a panic; every event comes back as one line of a JSON object with
// an id.
func FuzzEventReader(f *testing.F) {
	for _, seed := range []string{
		`{"action":"login"}` + "\n" + `{"id":"a","action":"x"}`,
		"[\n {\"action\": \"login\"},\n {\"id\": \"b\"}\n]\n",
		"{\n  \"actor\": {\"id\": \"u\"}\n}\n{\"id\":1}",
		"[] trailing", "{\"a\":", "\"just a string\"", "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := newEventReader(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, errInput) {
				t.Fatalf("newEventReader: %v, not errInput", err)
			}
			return
		}
		for range 10000 {
			ev, err := r.next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, errInput) {
					t.Fatalf("next: %v, not errInput", err)
				}
				return
			}
			var m map[string]json.RawMessage
			if bytes.ContainsAny(ev, "\n\r") || json.Unmarshal(ev, &m) != nil || m["id"] == nil {
				t.Fatalf("event %q is not one line of a JSON object with an id", ev)
			}
		}
	})
}
