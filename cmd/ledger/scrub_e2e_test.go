package main_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestScrub changes an event's tenant inside a full entry bundle and one byte
// of a full level-0 tile of a stopped ledger, then starts it with a scrub
// every second: within the interval the scrub reports both (an error log
// line and ledger_scrub_corrupt_tiles), and from then on the changed bundle,
// its events and proofs, the changed tile and the bundle it vouches for are
// answered 503, while the rest of the log is served.
func TestScrub(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	data := t.TempDir()
	args := []string{"--data", data, "--origin", "example.com/scrub", "--publish-interval", "20ms", "--scrub-interval", "1s", "--scrub-rate", "1000"}
	s := startServer(t, ledgerBin, args...)
	for i := range 6 {
		batch := make([]map[string]any, 100)
		for j := range batch {
			batch[j] = testEvent(fmt.Sprintf("e-%d-%d", i, j), j)
			batch[j]["tenant_id"] = "clinic-1"
		}
		if _, err := postEvents(http.DefaultClient, s.url, batch); err != nil {
			t.Fatal(err)
		}
	}
	stopServer(s)
	logDir := filepath.Join(data, "log")
	bundle := filepath.Join(logDir, "tile/entries/000")
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"clinic-1"`)) {
		t.Fatalf("bundle 000 holds no tenant clinic-1")
	}
	b = bytes.Replace(b, []byte(`"clinic-1"`), []byte(`"clinic-2"`), 1)
	if err := os.WriteFile(bundle, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tile := filepath.Join(logDir, "tile/0/001")
	b, err = os.ReadFile(tile)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 1
	if err := os.WriteFile(tile, b, 0o644); err != nil {
		t.Fatal(err)
	}

	s = startServer(t, ledgerBin, args...)
	// Reported by the metric and by one error line per corrupt tile (which
	// reach the test through a pipe, a moment after the metric).
	for deadline := time.Now().Add(10 * time.Second); metric(s.url, "ledger_scrub_corrupt_tiles") < 3 || s.logs.errorLines() < 3; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the scrub reports %v corrupt tiles and %d error lines, want 3 of each", metric(s.url, "ledger_scrub_corrupt_tiles"), s.logs.errorLines())
		}
	}
	for _, c := range []struct {
		path string
		want int
	}{
		{"tile/entries/000", 503}, {"v1/events/5", 503}, {"v1/proof/5", 503},
		{"tile/0/001", 503}, {"tile/entries/001", 503}, {"v1/events/300", 503},
		{"tile/0/000", 200}, {"tile/entries/002.p/88", 200}, {"v1/events/550", 200}, {"v1/proof/550", 200}, {"checkpoint", 200},
	} {
		if code, body := call(t, http.DefaultClient, "GET", s.url+c.path, "", ""); code != c.want {
			t.Errorf("GET %s: %d %s, want %d", c.path, code, body, c.want)
		}
	}
}
