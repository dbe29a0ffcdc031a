package main_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
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

func buildBinaries(t *testing.T) (ledgerBin, verifierBin, witnessBin string) {
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
	cmd  *exec.Cmd
	url  string
	vkey string
}

var (
	servingRe = regexp.MustCompile(`serving on (http://\S+/)`)
	vkeyRe    = regexp.MustCompile(`--vkey '([^']+)'`)
)

// startServer starts `ledger serve` and waits until it answers /healthz.
func startServer(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &testLogWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for (s.url == "" || s.vkey == "") && sc.Scan() {
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
		resp, err := http.Get(s.url + "healthz")
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

// testLogWriter routes a process's stderr to t.Logf while the test runs.
type testLogWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && testing.Verbose() {
		w.t.Logf("server: %s", bytes.TrimSpace(p))
	}
	return len(p), nil
}

// ack is what the ledger acknowledged for one event.
type ack struct {
	Index    uint64 `json:"index"`
	ID       string `json:"id"`
	LeafHash string `json:"leaf_hash"`
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

// TestCrashRecovery kills the ledger with SIGKILL under concurrent load, over
// and over, and checks that every acknowledged event is at its index with
// identical bytes, that the whole log verifies with the verifier, and that
// every checkpoint published before a crash is consistent with the final one.
func TestCrashRecovery(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	data := t.TempDir()
	args := []string{"--data", data, "--origin", "example.com/crash", "--publish-interval", "20ms"}
	const cycles, clients = 20, 6
	acked := map[uint64]ack{}
	var checkpoints []string
	var mu sync.Mutex
	var vkey string
	for cycle := range cycles {
		srv := startServer(t, ledgerBin, args...)
		vkey = srv.vkey
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				client := &http.Client{Timeout: 10 * time.Second}
				rng := rand.New(rand.NewPCG(uint64(cycle), uint64(c)))
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					var batch []map[string]any
					for i := range 1 + rng.IntN(20) {
						batch = append(batch, testEvent(fmt.Sprintf("c%d-%d-%d-%d", cycle, c, n, i), n))
					}
					acks, err := postEvents(client, srv.url, batch)
					if err != nil {
						continue // not acknowledged: the server may be dying
					}
					mu.Lock()
					for i, a := range acks {
						if a.ID != batch[i]["id"] {
							t.Errorf("ack %d has id %q, want %q", i, a.ID, batch[i]["id"])
						}
						if prev, ok := acked[a.Index]; ok && prev.ID != a.ID {
							t.Errorf("index %d acknowledged twice: %q and %q", a.Index, prev.ID, a.ID)
						}
						acked[a.Index] = a
					}
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(150+rand.IntN(250)) * time.Millisecond)
		if resp, err := http.Get(srv.url + "checkpoint"); err == nil {
			cp, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			path := filepath.Join(t.TempDir(), fmt.Sprintf("checkpoint.%d", cycle))
			os.WriteFile(path, cp, 0o644)
			checkpoints = append(checkpoints, path)
		}
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
		srv.cmd.Process.Kill() // SIGKILL, mid-load
		srv.cmd.Wait()
		close(stop)
		wg.Wait()
	}
	if len(acked) < cycles*clients {
		t.Fatalf("only %d events were acknowledged over %d cycles", len(acked), cycles)
	}
	srv := startServer(t, ledgerBin, args...)
	client := &http.Client{Timeout: 10 * time.Second}
	for index, a := range acked {
		resp, err := client.Get(fmt.Sprintf("%sv1/events/%d", srv.url, index))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
			Leaf []byte `json:"leaf"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("event %d: %s %v", index, resp.Status, err)
		}
		leafHash := sha256.Sum256(append([]byte{0}, got.Leaf...))
		if got.Event.ID != a.ID || base64.StdEncoding.EncodeToString(leafHash[:]) != a.LeafHash {
			t.Fatalf("event %d is %q with leaf hash %x; %q with %s was acknowledged", index, got.Event.ID, leafHash, a.ID, a.LeafHash)
		}
		if strings.Contains(string(got.Leaf), "hunter2") {
			t.Fatalf("event %d: a secret reached the leaf: %s", index, got.Leaf)
		}
	}
	srv.cmd.Process.Signal(os.Interrupt)
	srv.cmd.Wait()
	logDir := filepath.Join(data, "log")
	run := func(args ...string) string {
		out, err := exec.Command(verifierBin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("verifier %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("audit", "--log", logDir, "--vkey", vkey)
	t.Logf("%d events acknowledged over %d SIGKILLs; %s", len(acked), cycles, strings.TrimSpace(out))
	for _, cp := range checkpoints {
		run("consistency", "--log", logDir, "--vkey", vkey, "--old", cp)
	}
}
