package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ledger-dev/ledger/internal/pgtest"
)

// appendSome appends n events to the server and fails the test unless all
// are acknowledged.
func appendSome(t *testing.T, url, prefix string, n int) {
	t.Helper()
	var batch []map[string]any
	for i := range n {
		batch = append(batch, testEvent(prefix+"-"+string(rune('a'+i%26))+strings.Repeat("x", i/26), i))
	}
	if _, err := postEvents(http.DefaultClient, url, batch); err != nil {
		t.Fatal(err)
	}
}

// stopServer stops a server with SIGINT and waits for it.
func stopServer(s *server) {
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
}

// serveRefuses runs `ledger serve` with args and fails the test unless it
// exits with status 1 saying want.
func serveRefuses(t *testing.T, bin, want string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), want) {
		t.Fatalf("ledger serve %s: %v, want exit status 1 saying %q\n%s", strings.Join(args, " "), err, want, out)
	}
}

// TestTamperedCheckpointRefused replaces the checkpoint of the committed
// state with an older one the log really signed (posix), and with one whose
// signature is changed at the same size and root (PostgreSQL, where the
// triggers let an UPDATE of the checkpoint column through): the ledger
// refuses to start, saying why, and starts again once the state is restored.
func TestTamperedCheckpointRefused(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	const want = "the committed checkpoint is not the log's signature"
	t.Run("posix", func(t *testing.T) {
		data := t.TempDir()
		args := []string{"--data", data, "--origin", "example.com/tamper"}
		s := startServer(t, ledgerBin, args...)
		appendSome(t, s.url, "old", 20)
		statePath := filepath.Join(data, "log", ".state")
		old, err := os.ReadFile(statePath)
		if err != nil {
			t.Fatal(err)
		}
		appendSome(t, s.url, "new", 30)
		stopServer(s)
		good, err := os.ReadFile(statePath)
		if err != nil {
			t.Fatal(err)
		}
		var oldState, state map[string]any
		if json.Unmarshal(old, &oldState) != nil || json.Unmarshal(good, &state) != nil {
			t.Fatal("the state files are not JSON")
		}
		state["checkpoint"] = oldState["checkpoint"]
		tampered, _ := json.Marshal(state)
		if err := os.WriteFile(statePath, tampered, 0o644); err != nil {
			t.Fatal(err)
		}
		serveRefuses(t, ledgerBin, want, args...)
		if err := os.WriteFile(statePath, good, 0o644); err != nil {
			t.Fatal(err)
		}
		stopServer(startServer(t, ledgerBin, args...))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.New(t)
		key := newKey(t, ledgerBin, "example.com/pg-tamper")
		args := []string{"--data", t.TempDir(), "--key", key, "--postgres", dsn}
		s := startServer(t, ledgerBin, args...)
		appendSome(t, s.url, "e", 40)
		stopServer(s)
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var good []byte
		if err := conn.QueryRow(t.Context(), `SELECT checkpoint FROM log_state`).Scan(&good); err != nil {
			t.Fatal(err)
		}
		// The last signature line is "— name base64\n": change one
		// character of the signature, keeping it valid base64.
		bad := bytes.Clone(good)
		i := len(bad) - 3
		bad[i] = map[bool]byte{true: 'B', false: 'A'}[bad[i] == 'A']
		if _, err := conn.Exec(t.Context(), `UPDATE log_state SET checkpoint = $1`, bad); err != nil {
			t.Fatalf("the tampering UPDATE: %v", err)
		}
		serveRefuses(t, ledgerBin, want, args...)
		if _, err := conn.Exec(t.Context(), `UPDATE log_state SET checkpoint = $1`, good); err != nil {
			t.Fatal(err)
		}
		stopServer(startServer(t, ledgerBin, args...))
	})
}
