package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The tokens of testdata/golden-v1-log/tokens.json (test secrets, nothing
// else accepts them): a writer of tenant acme, a writer of any tenant and an
// auditor.
const (
	goldenAuditor = "ldg_2a-iz79A8D-q4ZmwcqfU-8EQEYG0F4H_lSMch3YQM-U"
	goldenWriter  = "ldg_30YiY-rq6TaB2822BVf1M3IVsjrmVsJAFxbf6TZdTlk"
)

// copyDir copies the tree at src into dst (which must not exist).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenV1Log starts the ledger on a data directory written before leaf
// version 2 (testdata/golden-v1-log: 8 version 1 leaves, two of them
// audit.accessed, and the query index at schema version 2), and checks that
// what was written then still serves, verifies, exports and reindexes, with
// new events (of leaf version 2) appended after the old ones.
func TestGoldenV1Log(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	dir := filepath.Join(t.TempDir(), "data")
	copyDir(t, "testdata/golden-v1-log", dir)
	vkey := strings.TrimSpace(string(mustReadFile(t, filepath.Join(dir, "log.key.pub"))))

	out, code := runCmd(t, verifierBin, "audit", "--log", filepath.Join(dir, "log"), "--vkey", vkey)
	if code != 0 || !strings.Contains(out, "8 entries") {
		t.Fatalf("verifier audit of the golden log: %d\n%s", code, out)
	}
	s := startServer(t, ledgerBin, "--data", dir, "--publish-interval", "10ms")
	// The old rows answer queries (the index was migrated at start).
	st, body := call(t, http.DefaultClient, "GET", s.url+"v1/events?since=2025-01-01T00:00:00Z&until=2025-12-31T00:00:00Z&actor_id=alice", goldenAuditor, "")
	var page struct {
		Events []struct {
			Index uint64          `json:"index"`
			Event json.RawMessage `json:"event"`
		} `json:"events"`
	}
	if st != 200 || json.Unmarshal(body, &page) != nil || len(page.Events) != 2 || page.Events[0].Index != 1 || page.Events[1].Index != 0 {
		t.Fatalf("query of the golden log's alice events: %d %s", st, body)
	}
	// New events go after the old ones; the log verifies as a whole.
	if st, body := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", goldenWriter,
		`{"id":"after-1","event_type":"user.login","action":"login","actor":{"id":"alice","type":"user"},"resource":{"type":"session"},"result":"success"}`); st != 200 {
		t.Fatalf("append to the golden log: %d %s", st, body)
	}
	// The old leaves read as version 1, the new one as version 2.
	for index, want := range map[int]string{1: `"v":1,`, 8: `"v":2,`} {
		st, body := call(t, http.DefaultClient, "GET", fmt.Sprintf("%sv1/events/%d", s.url, index), goldenAuditor, "")
		var got struct {
			Leaf []byte `json:"leaf"`
		}
		if st != 200 || json.Unmarshal(body, &got) != nil || !strings.HasPrefix(string(got.Leaf), "{"+want) {
			t.Fatalf("entry %d of the golden log grown: %d %s; want a leaf starting {%s", index, st, body, want)
		}
	}
	// The checkpoint published before the history of checkpoints existed
	// is its first: it covers the old entries.
	if st, body := call(t, http.DefaultClient, "GET", s.url+"v1/proof/1?at=first", goldenAuditor, ""); st != 200 ||
		!strings.Contains(string(body), "golden.example/v1\n8\n") {
		t.Fatalf("proof of entry 1 at the first checkpoint: %d %s; want the checkpoint of size 8", st, body)
	}
	out, code = runCmd(t, verifierBin, "audit", "--log", s.url, "--vkey", vkey, "--token", goldenAuditor)
	if code != 0 {
		t.Fatalf("verifier audit of the golden log grown: %d\n%s", code, out)
	}
	pkg := filepath.Join(t.TempDir(), "pkg")
	if out, code := runCmd(t, ledgerBin, "export", "--url", s.url, "--token", goldenAuditor, "--out", pkg, "--from", "0", "--to", "9", "--vkey", vkey); code != 0 {
		t.Fatalf("ledger export of the golden log: %d\n%s", code, out)
	}
	if out, code := runCmd(t, verifierBin, "export", pkg, "--vkey", vkey); code != 0 || !strings.Contains(out, "every entry from 0 to 8 is in the package") {
		t.Fatalf("verifier export of the golden log: %d\n%s", code, out)
	}
	// The index of schema version 2, migrated at start, holds every row as
	// the leaves say (the old ones without receive time or submitter).
	if out, code := runCmd(t, ledgerBin, "index", "verify", "--data", dir); code != 0 || !strings.Contains(out, "; 0 mismatches") {
		t.Fatalf("ledger index verify of the golden log's migrated index: %d\n%s", code, out)
	}
	if out, code := runCmd(t, ledgerBin, "index", "rebuild", "--data", dir); code != 0 {
		t.Fatalf("ledger index rebuild of the golden log: %d\n%s", code, out)
	}
	if out, code := runCmd(t, ledgerBin, "index", "verify", "--data", dir); code != 0 {
		t.Fatalf("ledger index verify of the golden log: %d\n%s", code, out)
	}
}
