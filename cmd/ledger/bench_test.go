package main_test

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"
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
