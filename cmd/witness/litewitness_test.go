package main_test

import (
	"bufio"
	"bytes"
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

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/tiles"
)

// TestLitewitnessCosignsOurLedger runs the real `ledger serve` with a
// witness policy that needs two witnesses: our `witness serve`, and
// litewitness, another tlog-witness implementation (filippo.io/torchwood
// v0.9.0, built from the module proxy by the separate module in
// testdata/litewitness, so that it is no dependency of ours). Appends wait
// until the quorum cosigned; the published checkpoint must carry both
// cosignatures, first from size 0 and then with a consistency proof.
func TestLitewitnessCosignsOurLedger(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "filippo.io/torchwood/cmd/litewitness", "./addlog")
	build.Dir = "testdata/litewitness"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building litewitness: %v\n%s", err, out)
	}
	if out, err := exec.Command("go", "build", "-o", bin+"/", "../ledger").CombinedOutput(); err != nil {
		t.Fatalf("building ledger: %v\n%s", err, out)
	}
	dir := t.TempDir()
	out, err := exec.Command(filepath.Join(bin, "ledger"), "keygen", "--origin", "example.com/interop",
		"--key", filepath.Join(dir, "log.key")).CombinedOutput()
	if err != nil {
		t.Fatalf("ledger keygen: %v\n%s", err, out)
	}
	logVKey := strings.TrimSpace(string(out))

	ours := newSetupVKeys(t, logVKey)
	op := ours.serve(t, "--listen", "127.0.0.1:0", "--state", filepath.Join(ours.dir, "state"))
	lw := startLitewitness(t, bin, dir)
	if out, err := exec.Command(filepath.Join(bin, "addlog"), lw.db, "example.com/interop", logVKey).CombinedOutput(); err != nil {
		t.Fatalf("addlog: %v\n%s", err, out)
	}
	policy := fmt.Sprintf("log %s\nwitness ours %s %s\nwitness lite %s %s\ngroup both all ours lite\nquorum both\n",
		logVKey, ours.vkey, op.url, lw.vkey, lw.url)
	policyFile := filepath.Join(dir, "policy")
	os.WriteFile(policyFile, []byte(policy), 0o644)

	ledgerURL := startProc(t, filepath.Join(bin, "ledger"), "serve", "--init", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"),
		"--key", filepath.Join(dir, "log.key"), "--witness-policy", policyFile, "--publish-interval", "50ms").url + "/"
	logV, _ := note.NewVerifier(logVKey)
	lwV, err := tiles.NewCosignatureVerifier(lw.vkey)
	if err != nil {
		t.Fatalf("litewitness vkey %q: %v", lw.vkey, err)
	}
	for round, n := range []int{3, 300} {
		var body bytes.Buffer
		for i := range n {
			fmt.Fprintf(&body, `{"action":"login","actor":{"id":"u%d","type":"user"},"resource":{"type":"session"},"result":"success"}`+"\n", i)
		}
		resp, err := http.Post(ledgerURL+"v1/events?wait=cosigned", "application/x-ndjson", &body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("round %d: cosigned append: %s %s", round, resp.Status, b)
		}
		resp, err = http.Get(ledgerURL + "checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		cp, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		nt, err := note.Open(cp, note.VerifierList(logV, lwV, ours.verifier))
		if err != nil || len(nt.Sigs) != 3 {
			t.Fatalf("round %d: checkpoint is not signed by the log and both witnesses (%v):\n%s", round, err, cp)
		}
		t.Logf("round %d: checkpoint cosigned by %s and %s:\n%s", round, nt.Sigs[1].Name, nt.Sigs[2].Name, cp)
	}
}

// litewitness is a running litewitness process.
type litewitness struct {
	url, vkey, db string
}

var lwVKeyRe = regexp.MustCompile(`vkey=(\S+)`)

// startLitewitness starts litewitness with a fresh Ed25519 key held by its
// own ssh-agent, as litewitness requires.
func startLitewitness(t *testing.T, bin, dir string) *litewitness {
	key := filepath.Join(dir, "lw.key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "agent.sock")
	agent := command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		add := exec.Command("ssh-add", key)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		out, err := add.CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-add: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	fp, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", key+".pub").Output()
	if err != nil {
		t.Fatalf("ssh-keygen -l: %v", err)
	}
	lw := &litewitness{db: filepath.Join(dir, "lw.db"), url: "http://" + freeAddr(t)}
	cmd := command(filepath.Join(bin, "litewitness"), "-name", "witness.example/lite", "-db", lw.db,
		"-ssh-agent", sock, "-key", strings.Fields(string(fp))[1], "-listen", strings.TrimPrefix(lw.url, "http://"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := lwVKeyRe.FindStringSubmatch(sc.Text()); m != nil {
			lw.vkey = m[1]
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	if lw.vkey == "" {
		t.Fatal("litewitness did not print its verifier key")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", strings.TrimPrefix(lw.url, "http://")); err == nil {
			c.Close()
			return lw
		}
		if time.Now().After(deadline) {
			t.Fatal("litewitness does not listen")
		}
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
