package main_test

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/internal/pgtest"
)

// TestBenchCommand runs `ledger bench` against a real server, single events
// and batches, and checks that what it reports as appended is in the log.
func TestBenchCommand(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	srv := startServer(t, ledgerBin, "--data", t.TempDir(), "--origin", "example.com/bench", "--no-index")
	eventsRe := regexp.MustCompile(`events/s \d+ +requests/s \d+ +events (\d+) +errors (\d+)`)
	var total uint64
	for _, batch := range []string{"1", "50"} {
		out, err := exec.Command(ledgerBin, "bench", "--url", srv.url, "--batch", batch, "--concurrency", "8", "--duration", "1s").CombinedOutput()
		if err != nil {
			t.Fatalf("bench --batch %s: %v\n%s", batch, err, out)
		}
		m := eventsRe.FindSubmatch(out)
		if m == nil || string(m[2]) != "0" {
			t.Fatalf("bench --batch %s printed:\n%s", batch, out)
		}
		n, _ := strconv.ParseUint(string(m[1]), 10, 64)
		if n == 0 {
			t.Fatalf("bench --batch %s appended nothing:\n%s", batch, out)
		}
		total += n
	}
	// Requests cut off by the end of the run may still be appended, so the
	// log may hold more than was counted, never less.
	if size := metric(srv.url, "ledger_tree_size"); uint64(size) < total {
		t.Fatalf("bench counted %d appended events, the log holds %.0f", total, size)
	}
}

// TestBenchFill fills a log with `ledger bench fill` in two runs (the
// second one carries on from the first), in a posix directory and in
// PostgreSQL, and checks that `ledger serve` opens it, that the verifier
// audits the whole log over HTTP, that the index the fill built matches the
// log, and that the log takes appends.
func TestBenchFill(t *testing.T) {
	t.Run("posix", func(t *testing.T) { testBenchFill(t) })
	t.Run("postgres", func(t *testing.T) { testBenchFill(t, "--postgres", pgtest.New(t)) })
}

// testBenchFill runs TestBenchFill with the storage of storeArgs (none:
// posix).
func testBenchFill(t *testing.T, storeArgs ...string) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	dir := t.TempDir()
	fill := func(entries string) string {
		t.Helper()
		out, code := runCmd(t, ledgerBin, append([]string{"bench", "fill", "--data", dir, "--origin", "example.com/fill",
			"--entries", entries, "--batch", "500", "--inflight", "3", "--tenants", "3"}, storeArgs...)...)
		if code != 0 {
			t.Fatalf("bench fill --entries %s: exit %d\n%s", entries, code, out)
		}
		return out
	}
	fill("1200")
	if out := fill("3000"); !strings.Contains(out, "opened the log of 1200 entries") || !strings.Contains(out, "the log holds 3000") ||
		!strings.Contains(out, "indexed 1800 entries") {
		t.Fatalf("the second bench fill printed:\n%s", out)
	}
	srv := startServer(t, ledgerBin, append([]string{"--data", dir}, storeArgs...)...)
	out := verify(t, verifierBin, "audit", "--log", srv.url, "--vkey", srv.vkey)
	if !strings.Contains(out, "all 3000 entries") {
		t.Fatalf("verifier audit of the filled log:\n%s", out)
	}
	indexArgs := storeArgs
	if len(indexArgs) == 0 {
		indexArgs = []string{"--index", filepath.Join(dir, "index.sqlite")}
	}
	out, code := runCmd(t, ledgerBin, append([]string{"index", "verify", "--log", srv.url, "--vkey", srv.vkey}, indexArgs...)...)
	if code != 0 || !strings.Contains(out, "checked 3000 rows") {
		t.Fatalf("ledger index verify: %d\n%s", code, out)
	}
	acks, err := postEvents(http.DefaultClient, srv.url, []map[string]any{testEvent("after-fill", 1)})
	if err != nil || acks[0].Index != 3000 {
		t.Fatalf("append after the fill: %v %+v", err, acks)
	}
	if indexes, _ := queryEvents(t, srv, "tenant_id=tenant-2&limit=5"); len(indexes) != 5 {
		t.Fatalf("query of a filled tenant: %v", indexes)
	}
}
