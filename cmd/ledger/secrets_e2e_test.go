package main_test

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestQuerySecretsNotLogged sends ?api_key=SECRET (and ?password=) to every
// endpoint of a real `ledger serve` with access control on, with every kind
// of token and none, so that each request is answered, refused or denied
// and the audited ones are logged; then it stops the server and reads every
// file of the data directory (the log's bundles, the indexes): the secret
// is in none of them, while the access events name the parameter.
func TestQuerySecretsNotLogged(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	data := t.TempDir()
	tokens := map[string]string{"none": ""}
	for _, role := range []string{"writer", "reader", "auditor", "admin"} {
		args := []string{"--role", role}
		if role == "reader" {
			args = append(args, "--tenant", "t-1")
		}
		tokens[role] = newToken(t, ledgerBin, data, args...)
	}
	s := startServer(t, ledgerBin, "--data", data, "--origin", "example.com/secrets", "--publish-interval", "20ms")
	ev := `{"action":"read","actor":{"id":"dr-who","type":"user"},"resource":{"type":"chart","id":"c-1"},"result":"success"}`
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", tokens["writer"], ev); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	const secret = "s3cr3t-in-the-query-8d1f"
	paths := []string{"v1/events", "v1/events/0", "v1/proof/0", "v1/reports/failed-attempts", "v1/export",
		"checkpoint", "tile/0/000.p/1", "tile/entries/000.p/1", "healthz", "metrics", "v1/admin/tokens", "v1/admin/holds"}
	for _, q := range []string{"?api_key=" + secret, "?actor_id=dr-who&password=" + secret, "?cursor=" + secret} {
		for name, tok := range tokens {
			for _, p := range paths {
				call(t, http.DefaultClient, "GET", s.url+p+q, tok, "")
			}
			call(t, http.DefaultClient, "POST", s.url+"v1/events"+q, tok, ev)
			call(t, http.DefaultClient, "POST", s.url+"v1/admin/holds"+q, tok, `{"reason":"x"}`)
			t.Logf("sent %d requests with %s", len(paths)+2, name)
		}
	}
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
	var files int
	var redacted bool
	eachFile(t, data, func(path string, b []byte) {
		files++
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret sent in a query string", path)
		}
		redacted = redacted || bytes.Contains(b, []byte("api_key=[REDACTED]"))
	})
	if !redacted {
		t.Errorf("no file of the %d in the data directory holds an access event naming api_key", files)
	}
}

// eachFile calls f with the path and content of every file below dir.
func eachFile(t *testing.T, dir string, f func(path string, b []byte)) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f(path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
