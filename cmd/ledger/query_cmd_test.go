package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TestQueryCommand runs `ledger query` against a real ledger: filters and
// pages as a table, every page as JSON, and --proof checking every row's
// proof against the log's key (and failing against another key).
func TestQueryCommand(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	dir := t.TempDir()
	s := startServer(t, ledgerBin, "--data", dir, "--publish-interval", "10ms")
	var events []map[string]any
	for i := range 7 {
		ev := testEvent(fmt.Sprintf("q-%d", i), i)
		ev["actor"] = map[string]any{"id": []string{"alice", "bob"}[i%2], "type": "user"}
		events = append(events, ev)
	}
	if _, err := postEvents(http.DefaultClient, s.url, events); err != nil {
		t.Fatal(err)
	}
	query := func(args ...string) (stdout, stderr string, code int) {
		var o, e bytes.Buffer
		cmd := exec.Command(ledgerBin, append([]string{"query", "--url", s.url}, args...)...)
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), code
	}
	// The follower indexes within a moment.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, _, _ := query("--json", "--all")
		if strings.Count(out, "\n") == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the index did not hold the 7 events:\n%s", out)
		}
	}

	out, errOut, code := query("--actor-id", "alice", "--limit", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "INDEX") || !strings.Contains(lines[1], "user:alice") || !strings.Contains(lines[1], "document/doc-6") ||
		!strings.Contains(errOut, "--cursor ") {
		t.Fatalf("a page of alice's events: exit %d\n%s%s", code, out, errOut)
	}
	cursor := strings.Fields(errOut[strings.Index(errOut, "--cursor "):])[1]
	out, errOut, code = query("--actor-id", "alice", "--limit", "2", "--cursor", cursor)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 3 || !strings.Contains(lines[1], "doc-2") {
		t.Fatalf("alice's second page: exit %d\n%s%s", code, out, errOut)
	}

	out, _, code = query("--actor-id", "bob", "--all", "--json", "--limit", "1")
	var indexes []uint64
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var row struct {
			Index uint64         `json:"index"`
			Event map[string]any `json:"event"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil || row.Event["actor"].(map[string]any)["id"] != "bob" {
			t.Fatalf("a --json row: %v %s", err, line)
		}
		indexes = append(indexes, row.Index)
	}
	if code != 0 || fmt.Sprint(indexes) != "[5 3 1]" {
		t.Fatalf("bob's events over pages of 1: exit %d, indexes %v, want [5 3 1]", code, indexes)
	}

	out, errOut, code = query("--all", "--proof", "--data", dir)
	if code != 0 || strings.Count(out, "\n") != 8 {
		t.Fatalf("--proof with the log's key: exit %d\n%s%s", code, out, errOut)
	}
	_, otherVkey, _ := note.GenerateKey(nil, "example.com/other")
	if _, errOut, code = query("--proof", "--vkey", otherVkey); code != 1 || !strings.Contains(errOut, "does not verify") {
		t.Fatalf("--proof with another key: exit %d, %s", code, errOut)
	}
	if _, errOut, code = query("--proof"); code != 2 || !strings.Contains(errOut, "--vkey") {
		t.Fatalf("--proof without a key: exit %d, %s", code, errOut)
	}
}
