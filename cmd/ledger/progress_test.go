package main_test

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestProgressBars: `ledger index verify` and `ledger export` show a
// progress bar on a terminal (a pseudo-terminal from script(1)) and
// nothing of it when their standard error is a pipe.
func TestProgressBars(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	dir := t.TempDir()
	s := startServer(t, ledgerBin, "--data", dir, "--publish-interval", "10ms")
	var events []map[string]any
	for i := range 300 {
		events = append(events, testEvent(fmt.Sprintf("p-%d", i), i))
	}
	if _, err := postEvents(http.DefaultClient, s.url, events); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); publishedSize(t, s.url) < 300; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the 300 events were not published")
		}
	}
	for _, tc := range []struct {
		args func() []string // a new --out each time
		bar  string
	}{
		{func() []string { return []string{"index", "verify", "--data", dir} }, "verifying"},
		{func() []string {
			return []string{"export", "--url", s.url, "--from", "0", "--to", "300", "--out", t.TempDir()}
		}, "exporting"},
	} {
		args := tc.args()
		piped, err := exec.Command(ledgerBin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ledger %s: %v\n%s", strings.Join(args, " "), err, piped)
		}
		if strings.Contains(string(piped), tc.bar) {
			t.Errorf("ledger %s through a pipe shows a progress bar:\n%s", strings.Join(args, " "), piped)
		}
		args = tc.args()
		tty, err := exec.Command("script", "-qec", ledgerBin+" "+strings.Join(args, " "), "/dev/null").CombinedOutput()
		if err != nil {
			t.Fatalf("script -c ledger %s: %v\n%s", strings.Join(args, " "), err, tty)
		}
		if !strings.Contains(string(tty), tc.bar) || !strings.Contains(string(tty), "100%") {
			t.Errorf("ledger %s on a terminal shows no progress bar:\n%q", strings.Join(args, " "), tty)
		}
	}
}
