package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/audit"
	"github.com/ledger-dev/ledger/audit/audittest"
)

// The environment of the application process that TestRecorderSIGKILL
// starts: the test binary re-executed.
const (
	appModeEnv  = "AUDIT_TEST_APP_MODE" // "record" or "flush"
	appDirEnv   = "AUDIT_TEST_APP_DIR"  // the spool directory
	appURLEnv   = "AUDIT_TEST_APP_URL"  // the ledger
	appRoundEnv = "AUDIT_TEST_APP_ROUND"
)

// TestRecorderSIGKILL is the acceptance test of the Recorder: an
// application records events while the ledger is down, is killed with
// SIGKILL and restarted on the same spool, twice; the ledger comes back and
// the application is killed once more while it sends; a last start flushes
// the spool. Every event whose Record returned is then in the log exactly
// once, and the log verifies.
func TestRecorderSIGKILL(t *testing.T) {
	if mode := os.Getenv(appModeEnv); mode != "" {
		runApp(t, mode)
		return
	}
	spool := t.TempDir()
	addr, url := downLedger(t)
	recorded := map[string]bool{}
	collect := func(ids []string) {
		for _, id := range ids {
			if recorded[id] {
				t.Fatalf("the application recorded event %s twice", id)
			}
			recorded[id] = true
		}
	}

	// The ledger is down: events accumulate in the spool, across kills.
	for round := range 2 {
		collect(startApp(t, "record", spool, url, round).killAfter(t, 200))
	}
	lg := audittest.Start(t, audittest.Config{Addr: addr})
	// The ledger is up: the application is killed while it sends, maybe
	// between the ledger's answer and the spool's acknowledgement.
	collect(startApp(t, "record", spool, url, 2).killAfter(t, 200))
	out := startApp(t, "flush", spool, url, 3).wait(t)
	i := strings.Index(out, "flushed ")
	if i < 0 {
		t.Fatalf("the last application did not flush: %q", out)
	}
	t.Logf("%d events recorded; the last application %s", len(recorded), strings.SplitN(out[i:], "\n", 2)[0])

	// Flush returned: every event is durable in the ledger, and published
	// within its publish interval.
	n := waitForEvents(t, lg, recorded)
	// Events whose Record returned just before a kill, too late to be
	// printed, are in the log as well.
	t.Logf("the log has %d events, each once", n)
}

// waitForEvents waits until the log holds every event of ids, failing the
// test if an event is in it twice, and returns the log's size. ReadLog
// verifies the log's tiles and entries against its signed checkpoint.
func waitForEvents(t *testing.T, lg *audittest.Ledger, ids map[string]bool) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		events, err := audittest.ReadLog(t.Context(), lg.URL, lg.Key)
		if err != nil {
			t.Fatalf("reading the log: %v", err)
		}
		count := map[string]int{}
		for _, ev := range events {
			if count[ev.ID]++; count[ev.ID] > 1 {
				t.Fatalf("event %s is in the log twice", ev.ID)
			}
		}
		missing := 0
		for id := range ids {
			if count[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return len(events)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d recorded events are not in the log of %d events", missing, len(ids), len(events))
		}
	}
}

// app is a running application process.
type app struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr bytes.Buffer // written by exec until Wait returns
	once   sync.Once
	err    error // from Wait
}

// startApp re-executes the test binary as the application; it is killed
// when the test ends, and with the test binary if that dies first.
func startApp(t *testing.T, mode, dir, url string, round int) *app {
	t.Helper()
	a := &app{lines: make(chan string, 1024)}
	a.cmd = exec.Command(os.Args[0], "-test.run=^TestRecorderSIGKILL$", "-test.timeout=30s")
	a.cmd.Env = append(os.Environ(), appModeEnv+"="+mode, appDirEnv+"="+dir, appURLEnv+"="+url, appRoundEnv+"="+strconv.Itoa(round))
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	a.cmd.Stderr = &a.stderr
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(a.lines)
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return // a line cut short by the kill was not printed whole
			}
			a.lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		a.reap()
		if t.Failed() {
			t.Logf("application %s, round %d, stderr:\n%s", mode, round, a.stderr.String())
		}
	})
	return a
}

// reap drains the output and waits for the process to exit.
func (a *app) reap() {
	a.once.Do(func() {
		for range a.lines {
		}
		a.err = a.cmd.Wait()
	})
}

// killAfter reads recorded IDs until n arrived, SIGKILLs the application
// while it records, and returns every ID it printed.
func (a *app) killAfter(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	deadline := time.After(5 * time.Second)
	for len(ids) < n {
		select {
		case line, ok := <-a.lines:
			if !ok {
				a.reap()
				t.Fatalf("the application exited after recording %d events: %v\n%s", len(ids), a.err, a.stderr.String())
			}
			id, found := strings.CutPrefix(line, "recorded ")
			if !found {
				t.Fatalf("the application printed %q", line)
			}
			ids = append(ids, id)
		case <-deadline:
			t.Fatalf("the application recorded only %d events in 5 s", len(ids))
		}
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for line := range a.lines {
		if id, found := strings.CutPrefix(line, "recorded "); found {
			ids = append(ids, id)
		}
	}
	a.reap()
	var ee *exec.ExitError
	if !errors.As(a.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the application ended with %v, not by SIGKILL\n%s", a.err, a.stderr.String())
	}
	return ids
}

// wait waits for the application to exit by itself, and returns its
// output.
func (a *app) wait(t *testing.T) string {
	t.Helper()
	var out strings.Builder
	timer := time.AfterFunc(10*time.Second, func() { a.cmd.Process.Kill() })
	defer timer.Stop()
	for line := range a.lines {
		fmt.Fprintln(&out, line)
	}
	a.reap()
	if a.err != nil {
		t.Fatalf("the application: %v\n%s%s", a.err, out.String(), a.stderr.String())
	}
	return out.String()
}

// runApp is the application: in mode "record", goroutines record events
// on the spool until the process is killed, printing each event's ID once
// Record returned; in mode "flush", it flushes the spool and closes.
func runApp(t *testing.T, mode string) {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c, err := audit.New(context.Background(), audit.Config{
		URL: os.Getenv(appURLEnv), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Small segments, so that kills find the spool in many states.
	r, err := audit.NewRecorder(context.Background(), audit.RecorderConfig{Client: c, Dir: os.Getenv(appDirEnv), SegmentBytes: 8 << 10, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "record":
		record := func(w io.Writer, mu *sync.Mutex, g int) {
			for i := 0; ; i++ {
				ev := testEvent(i)
				ev.Source = fmt.Sprintf("round-%s-g%d", os.Getenv(appRoundEnv), g)
				if err := r.Record(context.Background(), ev); err != nil {
					fmt.Fprintln(os.Stderr, "Record:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(w, "recorded %s\n", ev.ID) // one write: a pipe does not split it
				mu.Unlock()
			}
		}
		var mu sync.Mutex
		for g := range 4 {
			go record(os.Stdout, &mu, g)
		}
		select {} // until killed
	case "flush":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(ctx); err != nil {
			t.Fatal(err)
		}
		s := r.Stats()
		fmt.Printf("flushed sent=%d duplicates=%d rejected=%d\n", s.Sent, s.Duplicates, s.Rejected)
	default:
		t.Fatalf("%s=%q", appModeEnv, mode)
	}
}
