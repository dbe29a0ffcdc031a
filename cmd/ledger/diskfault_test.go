package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDiskFull runs `ledger serve` on a 64 MiB tmpfs that the test then
// fills up, under load from four clients: every refused append is a 503
// with Retry-After whose body names no path, /healthz answers 503 all
// along, the server logs at most a few error lines a second, and once the
// space is freed it appends again by itself, with every acknowledged event
// kept. Mounting the tmpfs needs root; as any other user the test fails
// saying so.
func TestDiskFull(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	if os.Geteuid() != 0 {
		t.Fatal("TestDiskFull mounts a small tmpfs to fill up, which needs root: run the tests as root (CI does)")
	}
	data := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("couldn't mount a tmpfs on %s: %v\n%s", data, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	s := startServer(t, ledgerBin, "--data", data, "--origin", "example.com/full", "--publish-interval", "20ms")
	filler := filepath.Join(data, "filler")
	fault := func() error { return fill(filler) }
	heal := func() error { return os.Remove(filler) }
	checkStorageFault(t, s, data, fault, heal)
	stopServer(s)
	verify(t, verifierBin, "audit", "--log", filepath.Join(data, "log"), "--vkey", s.vkey)
}

// TestReadOnlyDataDir makes the log directory of a running `ledger serve`
// unwritable (its files and directories mode 0555/0444; as root, the
// server runs as an unprivileged user, whom the modes bind), under load:
// the same checks as TestDiskFull, and it appends again by itself once the
// modes are restored.
func TestReadOnlyDataDir(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	base, err := os.MkdirTemp("", "ledger-readonly-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// As root, the server runs as nobody: its binary and directory must be
	// theirs to use.
	bin, data := filepath.Join(base, "ledger"), filepath.Join(base, "data")
	if err := copyFile(ledgerBin, bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	cmd := exec.Command(bin, "serve", "--init", "--listen", "127.0.0.1:0", "--data", data, "--origin", "example.com/ro", "--publish-interval", "20ms")
	if os.Geteuid() == 0 {
		cred := nobody(t)
		if err := os.Chown(data, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	s := startCmd(t, http.DefaultClient, cmd)
	logDir := filepath.Join(data, "log")
	fault := func() error { return chmodTree(logDir, 0o555, 0o444) }
	heal := func() error { return chmodTree(logDir, 0o755, 0o644) }
	checkStorageFault(t, s, data, fault, heal)
	stopServer(s)
	verify(t, verifierBin, "audit", "--log", logDir, "--vkey", s.vkey)
}

// checkStorageFault appends under load from four clients, causes the fault
// and keeps the load on for 3 s, then heals it, and checks what each test
// above says.
func checkStorageFault(t *testing.T, s *server, data string, fault, heal func() error) {
	t.Helper()
	a := &acks{t: t, index: map[uint64]ack{}}
	var mu sync.Mutex
	statuses := map[int]int{}
	var bad []string
	var lastErr string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				batch := []map[string]any{testEvent(fmt.Sprintf("c%d-%d", c, n), n)}
				code, retry, body, got := post(client, s.url, batch)
				mu.Lock()
				statuses[code]++
				if code == 0 {
					lastErr = body
				}
				if code != 200 && (code != 503 || retry == "" || strings.Contains(body, data) || strings.Contains(body, "/")) {
					bad = append(bad, fmt.Sprintf("%d Retry-After %q: %s", code, retry, body))
				}
				mu.Unlock()
				if code == 200 {
					a.record(batch, got)
				} else {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	if err := fault(); err != nil {
		t.Fatal(err)
	}
	// The first refusal marks the fault's start; from then on the health
	// check must say unavailable, every time.
	for deadline := time.Now().Add(5 * time.Second); healthz(s.url) == 200; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("/healthz still says ok 5 s after the fault")
		}
	}
	errorsBefore, start := s.logs.errorLines(), time.Now()
	var health []int
	for time.Since(start) < 3*time.Second {
		health = append(health, healthz(s.url))
		time.Sleep(100 * time.Millisecond)
	}
	errorLines, took := s.logs.errorLines()-errorsBefore, time.Since(start)
	if err := heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	mu.Lock()
	refused := statuses[503]
	mu.Unlock()
	for _, h := range health {
		if h != 503 {
			t.Errorf("/healthz during the fault answered %v, want 503 every time", health)
			break
		}
	}
	if rate := float64(errorLines) / took.Seconds(); rate > 5 {
		t.Errorf("%d error lines in %s of the fault (%.1f a second), want at most a few a second", errorLines, took.Round(time.Millisecond), rate)
	}
	// Appends work again by themselves.
	for {
		mu.Lock()
		before := statuses[200]
		mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		after := statuses[200]
		mu.Unlock()
		if after > before {
			break
		}
		if time.Since(healed) > 10*time.Second {
			out, _ := exec.Command("sh", "-c", "df -h "+data+"; du -a "+data+" | sort -n | tail -8").CombinedOutput()
			t.Logf("%s", out)
			t.Fatalf("appends still fail 10 s after the fault was healed: %v %s", statuses, lastErr)
		}
	}
	back := time.Since(healed)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("%d answers were not 200 or a 503 with Retry-After and no path, such as %s", len(bad), bad[0])
	}
	if refused == 0 {
		t.Error("no append was refused during the fault")
	}
	checkAcked(t, s.url, a)
	t.Logf("answers %v; %d error lines in %s of the fault; appending again %s after it was healed", statuses, errorLines, took.Round(time.Millisecond), back.Round(time.Millisecond))
}

// post appends a batch and returns the status, Retry-After, body and, for
// a 200, the acknowledgements.
func post(client *http.Client, url string, batch []map[string]any) (int, string, string, []ack) {
	body, _ := json.Marshal(batch)
	resp, err := client.Post(url+"v1/events", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, "", err.Error(), nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err.Error(), nil
	}
	var got []ack
	if resp.StatusCode == 200 && json.Unmarshal(b, &got) != nil {
		return 0, "", "not JSON: " + string(b), nil
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b), got
}

// healthz returns the status of GET /healthz, 0 if it did not answer.
func healthz(url string) int { return healthzWith(http.DefaultClient, url) }

// fill writes path until the file system is full.
func fill(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	chunk := make([]byte, 1<<16)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

// chmodTree sets the mode of every directory under root to dirMode and of
// every file to fileMode.
func chmodTree(root string, dirMode, fileMode fs.FileMode) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, dirMode)
		}
		return os.Chmod(path, fileMode)
	})
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// nobody returns the credentials of the nobody user.
func nobody(t *testing.T) *syscall.Credential {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("running as root, the test needs the nobody user to run the server as: %v", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}
