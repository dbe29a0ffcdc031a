package httpapi_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/ledger-dev/ledger/ledger/httpapi"
)

var update = flag.Bool("update", false, "rewrite the golden answers testdata/golden-*-v2.*")

// TestGoldenAnswers appends the events of testdata/golden-events.json and
// checks that the answers to the same export (NDJSON and CSV) and query
// are byte for byte those of testdata/golden-*-v2.*: the answers that
// evidence/testdata/golden-v1/make.sh recorded (testdata/golden-*.*, kept
// for the evidence package's tests) as a ledger writing leaf version 2
// gives them, with the receive time of the test server's clock and the
// open-mode submitter (written with -update).
func TestGoldenAnswers(t *testing.T) {
	s := newQueryServer(t)
	events, err := os.ReadFile("testdata/golden-events.json")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, b := s.do(t, "POST", "/v1/events?wait=published", "application/json", string(events)); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	if _, err := s.follower.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	const q = "actor_id=alice&since=2026-11-01T00:00:00Z&until=2026-11-03T00:00:00Z"
	for _, tc := range []struct{ path, golden string }{
		{"/v1/export?" + q, "testdata/golden-export-v2.ndjson"},
		{"/v1/export?" + q + "&format=csv", "testdata/golden-export-v2.csv"},
		{"/v1/events?" + q + "&limit=2", "testdata/golden-query-v2.json"},
	} {
		code, hdr, got := s.do(t, "GET", tc.path, "", "")
		if *update && code == 200 {
			if err := os.WriteFile(tc.golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(tc.golden)
		if err != nil {
			t.Fatal(err)
		}
		if code != 200 || !bytes.Equal(got, want) {
			t.Errorf("GET %s: %d\n%s\nwant (%s)\n%s", tc.path, code, got, tc.golden, want)
		}
		if size := hdr.Get(httpapi.TreeSizeHeader); tc.path[:10] == "/v1/export" && size != "6" {
			t.Errorf("GET %s: %s %q, want 6", tc.path, httpapi.TreeSizeHeader, size)
		}
	}
}
