package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/audit"
	"github.com/ledger-dev/ledger/audit/audittest"
)

// tWriter sends the app's logs to the test's.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// start runs the app with args until the test ends, and returns its base
// URL and a function that stops it and returns run's error.
func start(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append(args, "--listen", "127.0.0.1:0"), tWriter{t}, func(a string) { addr <- a })
	}()
	stop := sync.OnceValue(func() error { cancel(); return <-done })
	select {
	case a := <-addr:
		t.Cleanup(func() { stop() })
		return "http://" + a, stop
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	}
	return "", nil
}

// send makes a request as user and returns the status.
func send(t *testing.T, method, url, user, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("X-User", user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestClosed(t *testing.T) {
	lg := audittest.Start(t, audittest.Config{})
	app, stop := start(t, "--ledger", lg.URL)
	for i, step := range []struct {
		method, path, user, body string
		status                   int
		action, result, actor    string
	}{
		{"PUT", "/records/7", "alice", "hello", 200, "update", "success", "alice"},
		{"PUT", "/records/7", "alice", "world", 200, "update", "success", "alice"},
		{"GET", "/records/7", "bob", "", 200, "read", "success", "bob"},
		{"DELETE", "/records/7", "", "", 401, "delete", "denied", "anonymous"},
		{"GET", "/healthz", "", "", 200, "", "", ""},
	} {
		if got := send(t, step.method, app+step.path, step.user, step.body); got != step.status {
			t.Fatalf("%s %s: %d, want %d", step.method, step.path, got, step.status)
		}
		ev := lg.Event(t, i)
		if step.action == "" {
			if ev != nil {
				t.Fatalf("%s %s was logged: %+v", step.method, step.path, ev)
			}
			continue
		}
		if ev == nil || ev.Action != step.action || ev.Result != step.result || ev.Actor.ID != step.actor ||
			ev.Resource != (audit.Resource{Type: "records", ID: "7"}) || ev.Source != "web" || ev.Tags["route"] != "/records/{id}" {
			t.Fatalf("%s %s: event %d once answered: %+v", step.method, step.path, i, ev)
		}
	}
	if c := lg.Event(t, 1).Changes["value"]; string(c.Old) != `"hello"` || string(c.New) != `"world"` {
		t.Errorf("the change of the second PUT: %s -> %s", c.Old, c.New)
	}
	if err := stop(); err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestOpen serves a request while the ledger is down; the event reaches
// the ledger when it is up, at the latest while the app shuts down.
func TestOpen(t *testing.T) {
	addr := audittest.FreeAddr(t)
	app, stop := start(t, "--ledger", "http://"+addr+"/", "--mode", "open", "--spool", t.TempDir())
	if got := send(t, "PUT", app+"/records/1", "alice", "v"); got != 200 {
		t.Fatalf("PUT with the ledger down: %d", got)
	}
	lg := audittest.Start(t, audittest.Config{Addr: addr})
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	ev := lg.Event(t, 0)
	if ev == nil || ev.Action != "update" || ev.Actor.ID != "alice" || string(ev.Changes["value"].New) != `"v"` {
		t.Fatalf("the event after shutdown: %+v", ev)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--mode", "half-open"},
		{"--mode", "open"},
		{"--ledger", "ftp://x"},
		{"--log-level", "LOUD"},
		{"extra"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := run(ctx, args, io.Discard, nil); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
		cancel()
	}
	if o, err := parseFlags([]string{"--log-level", "WARN"}, io.Discard); err != nil || o.level != slog.LevelWarn {
		t.Errorf("--log-level WARN: %v, %v", o.level, err)
	}
}

// TestTokenFromEnvironment: --token defaults to $LEDGER_TOKEN, and --help
// does not print the token.
func TestTokenFromEnvironment(t *testing.T) {
	t.Setenv("LEDGER_TOKEN", "lt_secret-in-the-environment")
	if o, err := parseFlags(nil, io.Discard); err != nil || o.token != "lt_secret-in-the-environment" {
		t.Errorf("without --token: token %q, %v; want $LEDGER_TOKEN's", o.token, err)
	}
	if o, err := parseFlags([]string{"--token", "lt_given"}, io.Discard); err != nil || o.token != "lt_given" {
		t.Errorf("--token lt_given: token %q, %v", o.token, err)
	}
	var help strings.Builder
	parseFlags([]string{"--help"}, &help)
	if !strings.Contains(help.String(), "-token") || strings.Contains(help.String(), "secret-in-the-environment") {
		t.Errorf("--help prints the environment's token or no -token flag:\n%s", help.String())
	}
}
