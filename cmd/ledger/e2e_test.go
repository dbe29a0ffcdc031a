package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// binaries are built once per test run.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func buildBinaries(t testing.TB) (ledgerBin, verifierBin, witnessBin string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "ledger-e2e-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{".", "../verifier", "../witness"} {
			out, err := exec.Command("go", "build", "-o", binDir+"/", pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "ledger"), filepath.Join(binDir, "verifier"), filepath.Join(binDir, "witness")
}

// server is a running `ledger serve` process.
type server struct {
	cmd    *exec.Cmd
	url    string
	vkey   string
	banner []string       // what it printed on standard output up to its vkey and address
	logs   *testLogWriter // its standard error
}

var (
	servingRe = regexp.MustCompile(`serving on (https?://\S+/)`)
	vkeyRe    = regexp.MustCompile(`^log vkey: (\S+)$`)
)

// startServer starts `ledger serve --init` (a fresh data directory starts
// a new log) and waits until it answers /healthz.
func startServer(t testing.TB, bin string, args ...string) *server {
	t.Helper()
	return startServerWith(t, http.DefaultClient, bin, args...)
}

// startServerWith is startServer checking health with client (one that
// trusts the server's certificate, for HTTPS).
func startServerWith(t testing.TB, client *http.Client, bin string, args ...string) *server {
	t.Helper()
	return startLedger(t, client, bin, append([]string{"serve", "--init", "--listen", "127.0.0.1:0"}, args...)...)
}

// startLedger runs the ledger binary with args, exactly, and waits until
// the server it starts answers /healthz.
func startLedger(t testing.TB, client *http.Client, bin string, args ...string) *server {
	t.Helper()
	return startCmd(t, client, exec.Command(bin, args...))
}

// startCmd starts a prepared `ledger serve` command and waits until it
// answers /healthz.
func startCmd(t testing.TB, client *http.Client, cmd *exec.Cmd) *server {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &testLogWriter{t: t}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: logs}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for (s.url == "" || s.vkey == "") && sc.Scan() {
		s.banner = append(s.banner, sc.Text())
		if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
			s.url = m[1]
		}
		if m := vkeyRe.FindStringSubmatch(sc.Text()); m != nil {
			s.vkey = m[1]
		}
	}
	go io.Copy(io.Discard, stdout)
	if s.url == "" || s.vkey == "" {
		t.Fatalf("ledger serve did not print its address and vkey")
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := client.Get(s.url + "healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledger did not become healthy: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testLogWriter routes a process's stderr to t.Logf while the test runs,
// and counts its error lines.
type testLogWriter struct {
	t      testing.TB
	mu     sync.Mutex
	done   bool
	errors int // lines logged at level ERROR
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errors += bytes.Count(p, []byte(`"level":"ERROR"`))
	if !w.done && testing.Verbose() {
		w.t.Logf("server: %s", bytes.TrimSpace(p))
	}
	return len(p), nil
}

// errorLines returns how many error lines the process has logged so far.
func (w *testLogWriter) errorLines() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errors
}

// ack is what the ledger acknowledged for one event.
type ack struct {
	Index     uint64 `json:"index"`
	ID        string `json:"id"`
	LeafHash  string `json:"leaf_hash"`
	Duplicate bool   `json:"duplicate"`
}

func testEvent(id string, n int) map[string]any {
	return map[string]any{
		"id": id, "event_type": "document.updated", "action": "update",
		"actor":    map[string]any{"id": fmt.Sprintf("user-%d", n%17), "type": "user"},
		"resource": map[string]any{"type": "document", "id": fmt.Sprintf("doc-%d", n)},
		"result":   "success", "ip_address": "198.51.100.7",
		"changes": map[string]any{"title": map[string]any{"old": "a", "new": fmt.Sprint(n)}, "password": map[string]any{"old": "hunter2", "new": "s3cret"}},
	}
}

// postEvents appends a batch and returns the acknowledgements, or an error
// if the batch was not acknowledged.
func postEvents(client *http.Client, url string, events []map[string]any) ([]ack, error) {
	body, _ := json.Marshal(events)
	resp, err := client.Post(url+"v1/events", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var acks []ack
	if err := json.Unmarshal(b, &acks); err != nil {
		return nil, err
	}
	return acks, nil
}
