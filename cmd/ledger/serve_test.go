package main_test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeStart checks what `ledger serve` does before it serves: a data
// directory that holds no log is refused unless --init is given (a
// mistyped --data never starts a new log identity); a bad or busy --listen
// fails before anything is created, as do --bucket and --read-only
// without --postgres and --vkey without --read-only; the states a kill during the first
// start's key creation can leave start; a key readable by others gets a
// warning; its metrics count requests by route; and an open ledger
// turns access control on when a token is created.
func TestServeStart(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	lostKey := filepath.Join(dir, "lost-key")
	os.MkdirAll(filepath.Join(lostKey, "log"), 0o755)
	os.WriteFile(filepath.Join(lostKey, "log", "checkpoint"), []byte("example.com/x\n1\nAAAA\n"), 0o644)
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		want    string
		created string // must not exist afterwards
	}{
		{"no such directory", []string{"--data", filepath.Join(dir, "dta")}, 2, "add --init", filepath.Join(dir, "dta")},
		{"directory without a log", []string{"--data", empty}, 2, "holds no log", filepath.Join(empty, "log.key")},
		{"listen nonsense", []string{"--init", "--data", filepath.Join(dir, "a"), "--listen", "nonsense"}, 2, `--listen "nonsense" is not a host:port`, filepath.Join(dir, "a")},
		{"port in use", []string{"--init", "--data", filepath.Join(dir, "b"), "--listen", busy.Addr().String()}, 1, "couldn't listen on --listen " + busy.Addr().String(), filepath.Join(dir, "b")},
		{"debug port in use", []string{"--init", "--data", filepath.Join(dir, "c"), "--listen", "127.0.0.1:0", "--debug-listen", busy.Addr().String()}, 1, "--debug-listen", filepath.Join(dir, "c")},
		{"bucket without postgres", []string{"--init", "--data", filepath.Join(dir, "d"), "--bucket", filepath.Join(dir, "objects")}, 2, "--bucket needs --postgres", filepath.Join(dir, "d")},
		{"read-only without postgres", []string{"--init", "--data", filepath.Join(dir, "e"), "--read-only"}, 2, "--read-only needs --postgres", filepath.Join(dir, "e")},
		{"vkey without read-only", []string{"--init", "--data", filepath.Join(dir, "f"), "--postgres", "postgres://127.0.0.1:1/x", "--vkey", "x"}, 2, "--vkey is for --read-only", filepath.Join(dir, "f")},
		{"a log whose key is lost", []string{"--init", "--data", lostKey, "--listen", "127.0.0.1:0"}, 1, "restore the key from a backup", filepath.Join(lostKey, "log.key")},
	} {
		out, code := runCmd(t, ledgerBin, append([]string{"serve"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want %d and %q:\n%s", tc.name, code, tc.code, tc.want, out)
		}
		if _, err := os.Stat(tc.created); err == nil {
			t.Errorf("%s: %s was created", tc.name, tc.created)
		}
	}

	// A kill between the key and its vkey: a whole log.key without
	// log.key.pub (as keygen then the loss of .pub leaves it) starts, and
	// the vkey is written again from the key.
	keyOnly := filepath.Join(dir, "key-only")
	os.Mkdir(keyOnly, 0o755)
	out, code := runCmd(t, ledgerBin, "keygen", "--origin", "example.com/crash", "--key", filepath.Join(keyOnly, "log.key"))
	if code != 0 {
		t.Fatalf("keygen: %s", out)
	}
	vkey := strings.TrimSpace(out)
	os.Remove(filepath.Join(keyOnly, "log.key.pub"))
	s := startLedger(t, http.DefaultClient, ledgerBin, "serve", "--data", keyOnly, "--listen", "127.0.0.1:0")
	if s.vkey != vkey {
		t.Errorf("started with vkey %s, want the key's %s", s.vkey, vkey)
	}
	if b, _ := os.ReadFile(filepath.Join(keyOnly, "log.key.pub")); strings.TrimSpace(string(b)) != vkey {
		t.Errorf("log.key.pub written again as %q, want %q", b, vkey)
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()

	// A kill before the key: a stale vkey and a temporary file of the key
	// but no log.key; --init creates the key and a matching vkey.
	noKey := filepath.Join(dir, "no-key")
	os.Mkdir(noKey, 0o755)
	os.WriteFile(filepath.Join(noKey, "log.key.pub"), []byte(vkey+"\n"), 0o644)
	os.WriteFile(filepath.Join(noKey, ".log.key.tmp-123"), []byte("PRIVATE+KEY+exa"), 0o600)
	s = startServer(t, ledgerBin, "--data", noKey, "--origin", "example.com/fresh")
	if !strings.HasPrefix(s.vkey, "example.com/fresh+") || !strings.Contains(strings.Join(s.banner, "\n"), "created a NEW LOG example.com/fresh") {
		t.Errorf("--init after a crash before the key: vkey %s, banner:\n%s", s.vkey, strings.Join(s.banner, "\n"))
	}
	if b, _ := os.ReadFile(filepath.Join(noKey, "log.key.pub")); strings.TrimSpace(string(b)) != s.vkey {
		t.Errorf("log.key.pub is %q, want the new key's %q", b, s.vkey)
	}
	if st, err := os.Stat(filepath.Join(noKey, "log.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("log.key: %v, %v; want mode 0600", st, err)
	}
	// The open ledger turns access control on once a token is created.
	if code, _ := call(t, http.DefaultClient, "GET", s.url+"v1/events", "", ""); code != http.StatusOK {
		t.Fatalf("an open ledger answered %d to a query without a token", code)
	}
	// Its metrics count that request by route, and the index's lag.
	_, metrics := call(t, http.DefaultClient, "GET", s.url+"metrics", "", "")
	for _, want := range []string{`ledger_http_requests_total{code="200",method="GET",route="/v1/events"} 1`, "ledger_index_lag_entries 0", "ledger_http_request_duration_seconds_bucket"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics does not say %q", want)
		}
	}
	newToken(t, ledgerBin, noKey, "--role", "admin")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, _ := call(t, http.DefaultClient, "GET", s.url+"v1/events", "", "")
		if code == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after a token was created, a query without a token got %d, want 401", code)
		}
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()

	// A key readable by others: a warning, and it still starts (without
	// --init: the directory holds a log now).
	os.Chmod(filepath.Join(noKey, "log.key"), 0o644)
	s = startLedger(t, http.DefaultClient, ledgerBin, "serve", "--data", noKey, "--listen", "127.0.0.1:0")
	if banner := strings.Join(s.banner, "\n"); !strings.Contains(banner, "WARNING: the log key") || !strings.Contains(banner, "chmod 600") {
		t.Errorf("a world-readable key got no warning:\n%s", banner)
	}
}
