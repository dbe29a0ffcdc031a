package main

import (
	"io"
	"strings"
	"testing"
)

// TestSealedEntries: an audit counts the sealed entries per key, and takes
// a key as destroyed only from an erasure event that the ledger itself
// wrote.
func TestSealedEntries(t *testing.T) {
	const a, b = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	sealed := func(kid string) []byte {
		return []byte(`{"v":3,"id":"e","action":"read","submitter":{"type":"token"},"sealed":{"kid":"` + kid + `","nonce":"n","ct":"c"}}`)
	}
	erasure := func(kid, submitter string) []byte {
		return []byte(`{"v":2,"id":"x","event_type":"privacy.erasure_executed","action":"delete","tags":{"kid":"` + kid + `"},"submitter":{"type":"` + submitter + `"}}`)
	}
	s := newSealedEntries()
	for i, e := range [][]byte{sealed(a), sealed(a), sealed(b), []byte("not json"), []byte(`{"v":2,"id":"p"}`), erasure(a, "ledger"), erasure(b, "token")} {
		s.add(uint64(i), e)
	}
	var out strings.Builder
	r := &report{out: &out, progress: io.Discard}
	s.report(r)
	want := "ok sealed: 3 entries hold members sealed under 2 subject keys; inclusion verified for all; payload erased for 2 of them, whose keys the log's privacy.erasure_executed events record as destroyed: " + a + " (entry 5)\n"
	if out.String() != want {
		t.Errorf("report:\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	newSealedEntries().report(r)
	if out.Len() != 0 {
		t.Errorf("a log with no sealed entry: %q", out.String())
	}
}
