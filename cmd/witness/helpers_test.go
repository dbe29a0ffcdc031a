package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/ledger/witness/witnesstest"
	"github.com/ledger-dev/ledger/tiles"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The witness binary is built once per test run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func witnessBin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "witness-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "witness")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// runWitness runs a witness command to completion and returns its combined
// output and exit code.
func runWitness(t testing.TB, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(witnessBin(t), args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// setup is what a witness process needs: a key and a logs file.
type setup struct {
	dir, key, logs string
	vkey           string // the witness's cosignature/v1 vkey
	verifier       *tiles.CosignatureVerifier
}

// newSetup makes a witness key with `witness keygen` and a logs file for logs.
func newSetup(t testing.TB, logs ...*witnesstest.Log) *setup {
	t.Helper()
	var vkeys []string
	for _, l := range logs {
		vkeys = append(vkeys, l.VKey)
	}
	return newSetupVKeys(t, vkeys...)
}

// newSetupVKeys is newSetup for logs given by their vkeys.
func newSetupVKeys(t testing.TB, logVKeys ...string) *setup {
	t.Helper()
	dir := t.TempDir()
	s := &setup{dir: dir, key: filepath.Join(dir, "witness.key"), logs: filepath.Join(dir, "logs")}
	out, code := runWitness(t, "keygen", "--name", "witness.example.com/w1", "--key", s.key)
	if code != 0 {
		t.Fatalf("witness keygen: exit %d: %s", code, out)
	}
	s.vkey = strings.TrimSpace(out)
	v, err := tiles.NewCosignatureVerifier(s.vkey)
	if err != nil {
		t.Fatalf("keygen printed %q: %v", s.vkey, err)
	}
	s.verifier = v
	var b bytes.Buffer
	b.WriteString("# logs witnessed in this test\n")
	for _, vkey := range logVKeys {
		fmt.Fprintf(&b, "log %s\n", vkey)
	}
	if err := os.WriteFile(s.logs, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// proc is a running server process: `witness serve` or `ledger serve`.
type proc struct {
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port, from its "serving on" line
	done chan struct{}
}

var servingRe = regexp.MustCompile(`serving on (http://\S+?)/`)

// serve starts `witness serve` with the setup's key and logs and the given
// store and listen flags, and waits until it serves.
func (s *setup) serve(t testing.TB, flags ...string) *proc {
	t.Helper()
	return startProc(t, witnessBin(t), append([]string{"serve", "--key", s.key, "--logs", s.logs}, flags...)...)
}

// command is exec.Command for a process that dies with the test binary
// (a panic skips the cleanups).
func command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// startProc starts a server and waits until it prints its address.
func startProc(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	cmd := command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &logWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("%s %v exited before serving", bin, args)
			}
			if m := servingRe.FindStringSubmatch(line); m != nil {
				go func() {
					for range lines {
					}
				}()
				p.url = m[1]
				return p
			}
		case <-timeout:
			t.Fatalf("%s %v did not start in 10s", bin, args)
		}
	}
}

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// logWriter passes a process's log lines, but for the info-level ones (a
// stale old size is routine), to the test log in verbose mode.
type logWriter struct {
	t  testing.TB
	mu sync.Mutex
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if testing.Verbose() && !bytes.Contains(b, []byte(`"level":"INFO"`)) {
		w.t.Logf("server: %s", bytes.TrimSpace(b))
	}
	return len(b), nil
}
