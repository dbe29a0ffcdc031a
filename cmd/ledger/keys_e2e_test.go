package main_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/keyindex"
)

// TestKeyIndexE2E rebuilds the posix log's key index with `ledger index
// rebuild` (refused while the ledger runs), verifies it with `ledger index
// verify`, and finds a tampered row.
func TestKeyIndexE2E(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	dir := t.TempDir()
	s := startServer(t, ledgerBin, "--data", dir, "--publish-interval", "10ms")
	var events []map[string]any
	for i := range 300 {
		events = append(events, testEvent(fmt.Sprintf("evt-%d", i), i))
	}
	if _, err := postEvents(http.DefaultClient, s.url, events); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); publishedSize(t, s.url) < 300; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the checkpoint of size 300 was not published")
		}
	}
	if out, code := runCmd(t, ledgerBin, "index", "rebuild", "--data", dir); code != 0 || !strings.Contains(out, "not rebuilt: the ledger is running") {
		t.Fatalf("ledger index rebuild beside a running ledger: %d\n%s", code, out)
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()

	if out, code := runCmd(t, ledgerBin, "index", "rebuild", "--data", dir); code != 0 || !strings.Contains(out, "rebuilt the key index") {
		t.Fatalf("ledger index rebuild: %d\n%s", code, out)
	}
	out, code := runCmd(t, ledgerBin, "index", "verify", "--data", dir)
	if code != 0 || !strings.Contains(out, "checked the keys of 300 entries (300 keyed)") {
		t.Fatalf("ledger index verify: %d\n%s", code, out)
	}
	ks, err := keyindex.Open(t.Context(), keyindex.Config{Path: filepath.Join(dir, keyindex.FileName)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.DB().ExecContext(t.Context(), `UPDATE keys SET idx = 5 WHERE idx = 7`); err != nil {
		t.Fatal(err)
	}
	ks.Close()
	out, code = runCmd(t, ledgerBin, "index", "verify", "--data", dir)
	if code != 1 || !strings.Contains(out, `KEY MISMATCH entry 7: key "evt-7" is recorded at index 5`) || !strings.Contains(out, "1 mismatches") {
		t.Fatalf("ledger index verify of a tampered key row: %d\n%s", code, out)
	}
}

// publishedSize returns the size of the checkpoint the ledger at url serves.
func publishedSize(t *testing.T, url string) uint64 {
	resp, err := http.Get(url + "checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	note, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0
	}
	return checkpointSize(t, note)
}
