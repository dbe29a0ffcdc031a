package main_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/longtest"
	"github.com/ledger-dev/ledger/internal/pgtest"
)

// TestPostgresRestart restarts the PostgreSQL server under two ledger
// instances that take appends from six clients, in fast and immediate
// shutdown mode by turns, and checks that each instance appends again
// within 5 s of the database accepting connections, with no restart of the
// ledger processes; at the end every acknowledged event is at its index with
// its leaf hash, is a duplicate when sent again, and the log verifies.
// 2 restarts by default, 20 with LEDGER_LONG_TESTS=1.
func TestPostgresRestart(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	cluster := pgtest.NewCluster(t)
	key := newKey(t, ledgerBin, "example.com/pg-restart")
	servers := make([]*server, 2)
	urls := make([]string, len(servers))
	for i := range servers {
		servers[i] = startServer(t, ledgerBin, "--data", t.TempDir(), "--key", key, "--postgres", cluster.DSN(), "--publish-interval", "20ms")
		urls[i] = servers[i].url
	}
	cycles := longtest.Count(2, 20)
	a := &acks{t: t, index: map[uint64]ack{}}
	var worst time.Duration
	for cycle := range cycles {
		mode := []pgtest.Shutdown{pgtest.Fast, pgtest.Immediate}[cycle%2]
		stop := make(chan struct{})
		wg := load(cycle, 6, urls, a, stop)
		time.Sleep(time.Duration(200+rand.IntN(200)) * time.Millisecond)
		if err := cluster.Stop(mode); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond) // appends fail meanwhile
		if err := cluster.Start(); err != nil {
			t.Fatal(err)
		}
		back := time.Now()
		for i, s := range servers {
			took := appendAgain(t, s.url, a, fmt.Sprintf("probe-%d-%d", cycle, i), back.Add(5*time.Second))
			t.Logf("restart %d (%s): instance %d appended again %s after the database was back", cycle, mode, i, took.Round(time.Millisecond))
			worst = max(worst, took)
			if s.cmd.ProcessState != nil {
				t.Fatalf("instance %d exited: %s", i, s.cmd.ProcessState)
			}
		}
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wg.Wait()
	}
	failures := 0.0
	for _, s := range servers {
		failures += metric(s.url, "ledger_sequencer_reload_failures_total")
		if v := metric(s.url, "ledger_sequencer_recovering"); v != 0 {
			t.Errorf("%s still reports ledger_sequencer_recovering %v", s.url, v)
		}
	}
	// A restart usually catches flushes whose reloads fail too (about ten
	// per run of two restarts), but a flush that waits for a connection
	// until the database is back never fails: over two restarts on a
	// loaded machine none may. Over the long run's twenty, some must.
	if failures == 0 && longtest.Enabled() {
		t.Error("no reload ever failed: the database restarts never caught a flush")
	} else if failures == 0 {
		t.Log("no reload failed in this run: the restarts caught no flush, so the retry path was not exercised")
	}
	// Each instance has seen the log up to its own last commit: a new one
	// reads all of it. Events sent again to the others must be found in
	// the shared key index all the same.
	checkDeduplicated(t, urls[0], a)
	fresh := startServer(t, ledgerBin, "--data", t.TempDir(), "--key", key, "--postgres", cluster.DSN())
	checkAcked(t, fresh.url, a)
	checkDeduplicated(t, urls[1], a)
	out := verify(t, verifierBin, "audit", "--log", fresh.url, "--vkey", fresh.vkey)
	t.Logf("%d events acknowledged over %d database restarts (%.0f failed reloads retried); slowest return %s; %s",
		len(a.index), cycles, failures, worst.Round(time.Millisecond), out)
}

// appendAgain appends one event to url until it is acknowledged, failing the
// test at deadline, and returns how long that took.
func appendAgain(t *testing.T, url string, a *acks, id string, deadline time.Time) time.Duration {
	t.Helper()
	start := time.Now()
	client := &http.Client{Timeout: time.Second}
	var err error
	for n := 0; time.Now().Before(deadline); n++ {
		batch := []map[string]any{testEvent(fmt.Sprintf("%s-%d", id, n), n)}
		var got []ack
		if got, err = postEvents(client, url, batch); err == nil {
			a.record(batch, got)
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not append again within %s of the database being back: %v", url, time.Until(deadline)+time.Since(start), err)
	return 0
}
