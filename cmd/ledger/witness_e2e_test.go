package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// witnessProc is a running `witness serve` process.
type witnessProc struct {
	cmd  *exec.Cmd
	addr string
}

var witnessServingRe = regexp.MustCompile(`serving on http://(\S+)/`)

func startWitnessProc(t *testing.T, bin, key, logs, state, addr string) *witnessProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--key", key, "--logs", logs, "--state", state, "--listen", addr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &testLogWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := witnessServingRe.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stdout)
			return &witnessProc{cmd: cmd, addr: m[1]}
		}
	}
	t.Fatalf("witness did not start on %s", addr)
	return nil
}

func (w *witnessProc) kill() { w.cmd.Process.Kill(); w.cmd.Wait() }

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newLogKey runs `ledger keygen` for origin into dir/log.key and returns
// the key file and its vkey.
func newLogKey(t testing.TB, ledgerBin, dir, origin string) (keyFile, vkey string) {
	t.Helper()
	keyFile = filepath.Join(dir, "log.key")
	out, code := runCmd(t, ledgerBin, "keygen", "--origin", origin, "--key", keyFile)
	if code != 0 {
		t.Fatalf("ledger keygen: %s", out)
	}
	return keyFile, strings.TrimSpace(out)
}

func runCmd(t testing.TB, bin string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestWitnessedLog runs the ledger with three real witness processes under a
// 2-of-3 policy, and checks with the verifier what an auditor would see as
// witnesses die and come back.
func TestWitnessedLog(t *testing.T) {
	ledgerBin, verifierBin, witnessBin := buildBinaries(t)
	dir := t.TempDir()
	logKey, logVKey := newLogKey(t, ledgerBin, dir, "example.com/witnessed")
	logsFile := filepath.Join(dir, "logs")
	os.WriteFile(logsFile, []byte("# the log this witness cosigns\nlog "+logVKey+"\n"), 0o644)

	policy := "log " + logVKey + "\n"
	var witnesses []*witnessProc
	var keys, states []string
	for i := range 3 {
		key := filepath.Join(dir, fmt.Sprintf("w%d.key", i))
		out, code := runCmd(t, witnessBin, "keygen", "--name", fmt.Sprintf("w%d.example.com", i), "--key", key)
		if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("w%d.example.com+", i)) {
			t.Fatalf("witness keygen: %s", out)
		}
		state := filepath.Join(dir, fmt.Sprintf("w%d.state", i))
		w := startWitnessProc(t, witnessBin, key, logsFile, state, freeAddr(t))
		witnesses, keys, states = append(witnesses, w), append(keys, key), append(states, state)
		policy += fmt.Sprintf("witness w%d %s http://%s\n", i, strings.TrimSpace(out), w.addr)
	}
	policy += "group auditors 2 w0 w1 w2\nquorum auditors\n"
	policyFile := filepath.Join(dir, "policy")
	os.WriteFile(policyFile, []byte(policy), 0o644)

	srv := startServer(t, ledgerBin, "--data", filepath.Join(dir, "data"), "--key", logKey,
		"--witness-policy", policyFile, "--publish-interval", "50ms", "--witness-timeout", "2s")
	appendEvents := func(n int, wait string) int {
		var body bytes.Buffer
		for i := range n {
			fmt.Fprintf(&body, `{"action":"login","actor":{"id":"u%d","type":"user"},"resource":{"type":"session"},"result":"success"}`+"\n", i)
		}
		resp, err := http.Post(srv.url+"v1/events?wait="+wait, "application/x-ndjson", &body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Logf("append wait=%s: %s %s", wait, resp.Status, b)
		}
		return resp.StatusCode
	}
	verify := func() (string, int) {
		return runCmd(t, verifierBin, "checkpoint", "--log", srv.url, "--policy", policyFile)
	}

	if code := appendEvents(20, "cosigned"); code != http.StatusOK {
		t.Fatalf("cosigned append with all witnesses up: %d", code)
	}
	if out, code := verify(); code != 0 || strings.Count(out, "ok cosignature") < 2 || !strings.Contains(out, "ok quorum") {
		t.Fatalf("verifier with all witnesses up (exit %d):\n%s", code, out)
	}
	checkWitnessedTime(t, verifierBin, srv.url, policyFile, dir)

	witnesses[0].kill()
	if code := appendEvents(20, "cosigned"); code != http.StatusOK {
		t.Fatalf("cosigned append with one witness down: %d", code)
	}
	if out, code := verify(); code != 0 {
		t.Fatalf("verifier with one witness down (exit %d):\n%s", code, out)
	}

	witnesses[1].kill()
	if code := appendEvents(20, "published"); code != http.StatusOK {
		t.Fatalf("published append with two witnesses down: %d", code)
	}
	out, code := verify()
	if code != 1 || !strings.Contains(out, "FAIL: quorum") {
		t.Fatalf("verifier with two witnesses down: exit %d, want 1 with a quorum failure:\n%s", code, out)
	}
	t.Logf("with two witnesses down the verifier says:\n%s", out)

	for i := range 2 {
		witnesses[i] = startWitnessProc(t, witnessBin, keys[i], logsFile, states[i], witnesses[i].addr)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, code := verify()
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("quorum did not come back after the witnesses restarted:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkWitnessedTime fetches the proof of entry 0, cosigned a moment ago,
// against the first checkpoint that covered it (?at=first),
// and checks that `verifier proof` prints when the ledger received it and
// when witnesses saw it (within seconds of each other), and that the proof
// fails once the receive time in its leaf is changed.
func checkWitnessedTime(t *testing.T, verifierBin, url, policyFile, dir string) {
	t.Helper()
	resp, err := http.Get(url + "v1/proof/0?at=first")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	proofFile := filepath.Join(dir, "0.tlog-proof")
	if err := os.WriteFile(proofFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runCmd(t, verifierBin, "proof", proofFile, "--policy", policyFile, "--json")
	var rep struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Check string         `json:"check"`
			Data  map[string]any `json:"data"`
		} `json:"checks"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.OK {
		t.Fatalf("verifier proof of a cosigned entry: %d\n%s", code, out)
	}
	var received, existed time.Time
	for _, c := range rep.Checks {
		if v, ok := c.Data["received_at"].(string); ok {
			received, _ = time.Parse(time.RFC3339Nano, v)
		}
		if v, ok := c.Data["existed_by"].(string); ok {
			existed, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	// A cosignature's time has whole seconds: W may be up to a second
	// before R.
	if received.IsZero() || existed.IsZero() || existed.Before(received.Add(-time.Second)) || existed.Sub(received) > 5*time.Second {
		t.Fatalf("received at %v, existed by %v; want both, within a few seconds:\n%s", received, existed, out)
	}
	p, err := tiles.ParseProof(raw)
	if err != nil {
		t.Fatal(err)
	}
	at := []byte(`"received_at":"` + received.UTC().Format(time.RFC3339Nano) + `"`)
	if !bytes.Contains(p.Extra, at) {
		t.Fatalf("the proof's leaf %s does not hold %s", p.Extra, at)
	}
	p.Extra = bytes.Replace(p.Extra, at, []byte(`"received_at":"`+received.Add(-time.Hour).UTC().Format(time.RFC3339Nano)+`"`), 1)
	if err := os.WriteFile(proofFile, p.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, verifierBin, "proof", proofFile, "--policy", policyFile); code != 1 || !strings.Contains(out, "FAIL") {
		t.Fatalf("verifier proof of a leaf whose receive time was changed: %d\n%s", code, out)
	}
}
