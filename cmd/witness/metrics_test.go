package main_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/ledger/witness/witnesstest"
)

// TestHealthAndMetrics: a running witness answers GET /healthz, and GET
// /metrics counts its add-checkpoint requests by status code.
func TestHealthAndMetrics(t *testing.T) {
	s := newSetup(t, witnesstest.NewLog(t, "example.com/metrics"))
	p := s.serve(t, "--listen", "127.0.0.1:0", "--state", filepath.Join(s.dir, "state"), "--log-level", "WARN")
	get := func(path string) (int, string) {
		resp, err := http.Get(strings.TrimSuffix(p.url, "/") + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"status":"ok"`) || !strings.Contains(body, `"logs":1`) {
		t.Errorf("GET /healthz: %d %s", code, body)
	}
	resp, err := http.Post(strings.TrimSuffix(p.url, "/")+"/add-checkpoint", "text/plain", strings.NewReader("not a request"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("a bad add-checkpoint: %d, want 400", resp.StatusCode)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `witness_http_requests_total{code="400",method="post"} 1`) || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics: %d, without the bad request counted:\n%s", code, body)
	}
}
