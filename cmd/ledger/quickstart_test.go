package main_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQuickstart follows README's quickstart literally in a fresh copy of
// the repository (the files a clone has): the first command of its sh
// block starts the ledger, and the rest run as written, in one shell with
// -e, once it answers; the only change is a free port for 127.0.0.1:8080.
func TestQuickstart(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "## Quickstart")
	_, block, ok2 := strings.Cut(block, "```sh\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no sh block under ## Quickstart")
	}
	addr := freeAddr(t)
	if !strings.Contains(block, "127.0.0.1:8080") {
		t.Fatal("the quickstart does not name 127.0.0.1:8080, so no free port can be put in")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the quickstart uses curl, which is not installed (scripts/test installs it)")
	}
	block = strings.ReplaceAll(block, "127.0.0.1:8080", addr)
	serveCmd, rest, _ := strings.Cut(block, "\n")
	if !strings.Contains(serveCmd, "ledger serve") {
		t.Fatalf("the quickstart's first command is not ledger serve: %s", serveCmd)
	}

	clone := t.TempDir()
	files, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("TestQuickstart copies the files git tracks, and needs a git checkout: git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(clone, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(clone, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var serveOut bytes.Buffer
	serve := exec.Command("bash", "-c", serveCmd)
	serve.Dir, serve.Stdout, serve.Stderr = clone, &serveOut, &testLogWriter{t: t}
	// go run starts the ledger as its child: kill the whole group.
	serve.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-serve.Process.Pid, syscall.SIGKILL); serve.Wait() })
	// go run compiles the copy afresh (its files are at another path, so
	// the build cache does not serve them): on a loaded 2-core machine
	// that has taken more than two minutes.
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the quickstart's ledger did not answer on %s:\n%s", addr, serveOut.String())
		}
	}
	out, err := exec.Command("bash", "-c", "set -euo pipefail\ncd "+clone+"\n"+rest).CombinedOutput()
	if err != nil {
		t.Fatalf("the quickstart's commands failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"index":0`, "ok audit:", "ok inclusion: entry 0"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the quickstart's output does not say %q:\n%s", want, out)
		}
	}
	if banner := serveOut.String(); !strings.Contains(banner, "created a NEW LOG example.com/audit") || !strings.Contains(banner, "go run ./cmd/verifier audit") {
		t.Errorf("the quickstart's ledger printed:\n%s", banner)
	}
}
