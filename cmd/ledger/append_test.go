package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// appendResults runs `ledger append` on a file of input and returns its
// result lines, decoded.
func appendResults(t *testing.T, bin, url, input string, args ...string) []map[string]any {
	t.Helper()
	file := filepath.Join(t.TempDir(), "events")
	if err := os.WriteFile(file, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runCmd(t, bin, append(append([]string{"append", "--url", url}, args...), file)...)
	if code != 0 {
		t.Fatalf("ledger append exited %d: %s", code, out)
	}
	var results []map[string]any
	for line := range strings.Lines(out) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("result line %q: %v", line, err)
		}
		results = append(results, r)
	}
	return results
}

// TestAppendCommand feeds `ledger append` events with their own ids in
// batches that split the input (each event must keep its own bytes while
// later ones are read), then the same file again (every event a
// duplicate), then a JSON array and pretty-printed objects, then input that
// is not JSON.
func TestAppendCommand(t *testing.T) {
	bin, _, _ := buildBinaries(t)
	s := startServer(t, bin, "--data", t.TempDir(), "--no-index")

	var ndjson strings.Builder
	var ids []string
	for i := range 450 {
		id := fmt.Sprintf("0190c0de-0000-7000-8000-%012d", i)
		ids = append(ids, id)
		b, _ := json.Marshal(testEvent(id, i))
		ndjson.Write(append(b, '\n'))
	}
	for _, pass := range []struct {
		name      string
		duplicate bool
	}{{"first", false}, {"again", true}} {
		results := appendResults(t, bin, s.url, ndjson.String(), "--batch", "100")
		if len(results) != len(ids) {
			t.Fatalf("%s pass: %d results for %d events", pass.name, len(results), len(ids))
		}
		for i, r := range results {
			if r["id"] != ids[i] || r["index"] != float64(i) || (r["duplicate"] == true) != pass.duplicate {
				t.Fatalf("%s pass: result %d is %v, want id %s at index %d (duplicate %v)", pass.name, i, r, ids[i], i, pass.duplicate)
			}
		}
	}

	event := `{"event_type": "user.login", "action": "login",
  "actor": {"id": "alice", "type": "user"},
  "resource": {"type": "session", "id": "s-1"}, "result": "success"}`
	for name, input := range map[string]string{
		"array":       "[\n" + event + ",\n" + event + "\n]\n",
		"pretty":      event + "\n" + event + "\n\n",
		"empty array": " [ ] ",
	} {
		want := strings.Count(input, "user.login")
		if results := appendResults(t, bin, s.url, input); len(results) != want {
			t.Errorf("%s: %d result lines, want %d", name, len(results), want)
		}
	}

	file := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(file, []byte(event+"\n"+event+"\n{\"action\": nope}\n"), 0o600)
	out, code := runCmd(t, bin, "append", "--url", s.url, file)
	if code != 1 || !strings.Contains(out, "event 3 is not JSON") {
		t.Errorf("input that is not JSON: exit %d, %q; want exit 1 naming event 3", code, out)
	}
}

// TestAppendRetries checks that `ledger append` refuses a URL without a
// scheme, and that a ledger answering 503 is retried a bounded number of
// times, each retry said on stderr, before it gives up with exit status 1.
func TestAppendRetries(t *testing.T) {
	bin, _, _ := buildBinaries(t)
	out, code := runCmd(t, bin, "append", "--url", "127.0.0.1:8080", os.DevNull)
	if code != 2 || !strings.Contains(out, "give the ledger's http:// or https:// URL") {
		t.Errorf("--url without a scheme: exit %d, %q", code, out)
	}
	var requests atomic.Int32
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":"events are durable but not yet cosigned"}`)
	}))
	defer busy.Close()
	file := filepath.Join(t.TempDir(), "events")
	os.WriteFile(file, []byte(`{"action":"login","actor":{"id":"a","type":"user"},"resource":{"type":"session"},"result":"success"}`+"\n"), 0o600)
	out, code = runCmd(t, bin, "append", "--url", busy.URL, "--attempts", "2", file)
	if code != 1 || requests.Load() != 2 || !strings.Contains(out, "retrying in 1s (attempt 2 of 2)") || !strings.Contains(out, "gave up after 2 attempts") {
		t.Errorf("a ledger that answers 503: exit %d after %d requests, %q", code, requests.Load(), out)
	}
}
