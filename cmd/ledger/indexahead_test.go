package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIndexAheadOfLog rolls the log of a data directory (and its key index)
// back to a copy taken at 100 entries, keeping the query index of 300: `ledger serve` refuses to
// start and `ledger index verify` fails, each saying the index is ahead of
// the log; after `ledger index rebuild` the server starts again.
func TestIndexAheadOfLog(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	data := t.TempDir()
	args := []string{"--data", data, "--origin", "example.com/ahead", "--publish-interval", "20ms"}
	s := startServer(t, ledgerBin, args...)
	appendSome(t, s.url, "first", 100)
	stopServer(s)
	logDir := filepath.Join(data, "log")
	// The backup holds the log and its key index, not the query index.
	backup := t.TempDir()
	if out, err := exec.Command("sh", "-c", `cp -a "$1"/log "$1"/keys.sqlite* "$2"/`, "sh", data, backup).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	s = startServer(t, ledgerBin, args...)
	appendSome(t, s.url, "second", 200)
	waitIndexed(t, s.url, 300)
	stopServer(s)
	if err := os.RemoveAll(logDir); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-c", `rm -f "$1"/keys.sqlite* && cp -a "$2"/. "$1"/`, "sh", data, backup).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	const want = "the query index is ahead of the log"
	serveRefuses(t, ledgerBin, want, args...)
	out, code := runCmd(t, ledgerBin, "index", "verify", "--data", data)
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("ledger index verify of an index ahead of the log: exit %d\n%s", code, out)
	}
	if out, code := runCmd(t, ledgerBin, "index", "rebuild", "--data", data); code != 0 {
		t.Fatalf("ledger index rebuild: exit %d\n%s", code, out)
	}
	if out, code := runCmd(t, ledgerBin, "index", "verify", "--data", data); code != 0 {
		t.Fatalf("ledger index verify after the rebuild: exit %d\n%s", code, out)
	}
	stopServer(startServer(t, ledgerBin, args...))
}

// waitIndexed waits until the query index answers n events.
func waitIndexed(t *testing.T, url string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url + "v1/events?limit=1000")
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []json.RawMessage `json:"events"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err == nil && len(page.Events) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the query index holds %d of %d events after 10 s (%v)", len(page.Events), n, err)
		}
	}
}
