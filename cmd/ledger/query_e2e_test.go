package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/evidence"
	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/index"
	pgindex "github.com/ledger-dev/ledger/ledger/index/postgres"
	"github.com/ledger-dev/ledger/ledger/index/sqlite"
)

// queryEvents GETs /v1/events and returns the rows' indexes and proofs.
func queryEvents(t *testing.T, s *server, query string) (indexes []uint64, proofs []string) {
	t.Helper()
	resp, err := http.Get(s.url + "v1/events?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Events []struct {
			Index uint64 `json:"index"`
			Proof string `json:"proof"`
		} `json:"events"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, &body) != nil {
		t.Fatalf("GET /v1/events?%s: %d %s", query, resp.StatusCode, b)
	}
	for _, e := range body.Events {
		indexes, proofs = append(indexes, e.Index), append(proofs, e.Proof)
	}
	return indexes, proofs
}

// TestEvidenceE2E runs the real binaries: the server indexes what it
// appends; `ledger export` writes evidence packages that `verifier export`
// checks offline, and tampering with a package or with the index is caught
// by `verifier` and `ledger index verify`.
func TestEvidenceE2E(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	dir := t.TempDir()
	s := startServer(t, ledgerBin, "--data", dir, "--publish-interval", "10ms")
	var events []map[string]any
	for i := range 700 {
		events = append(events, testEvent(fmt.Sprintf("evt-%d", i), i))
	}
	if _, err := postEvents(http.DefaultClient, s.url, events); err != nil {
		t.Fatal(err)
	}
	// user-3 did 41 of the 700 events; wait until the index has them all.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got, _ := queryEvents(t, s, "actor_id=user-3&limit=1000"); len(got) == 41 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the index did not catch up with the log")
		}
	}

	// A filtered export and a range export verify offline.
	filtered, ranged := filepath.Join(dir, "pkg-user-3"), filepath.Join(dir, "pkg-range")
	// An export that fails (the checkpoint is not signed by the key given)
	// leaves nothing behind, so that it can be retried into the same place.
	otherKey := filepath.Join(t.TempDir(), "other.key")
	if out, code := runCmd(t, ledgerBin, "keygen", "--origin", "example.com/other", "--key", otherKey); code != 0 {
		t.Fatalf("ledger keygen: %d\n%s", code, out)
	}
	otherVkey, err := os.ReadFile(otherKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, ledgerBin, "export", "--url", s.url, "--out", filtered, "--actor-id", "user-3", "--vkey", strings.TrimSpace(string(otherVkey))); code != 1 {
		t.Fatalf("ledger export against another log's key: exit %d, want 1\n%s", code, out)
	}
	if ents, _ := os.ReadDir(dir); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.Contains(e.Name(), "pkg-user-3") }) {
		t.Fatalf("a failed export left %v in the data directory", ents)
	}
	if out, code := runCmd(t, ledgerBin, "export", "--url", s.url, "--out", filtered, "--actor-id", "user-3", "--vkey", s.vkey); code != 0 {
		t.Fatalf("ledger export: %d\n%s", code, out)
	}
	if out, code := runCmd(t, ledgerBin, "export", "--url", s.url, "--out", ranged, "--from", "200", "--to", "530"); code != 0 {
		t.Fatalf("ledger export --from --to: %d\n%s", code, out)
	}
	// The manifest records the time window the export covered, the
	// server's default one included.
	var m evidence.Manifest
	if err := json.Unmarshal(mustReadFile(t, filepath.Join(filtered, "manifest.json")), &m); err != nil {
		t.Fatal(err)
	}
	since, serr := time.Parse(time.RFC3339Nano, m.Filters["since"])
	until, uerr := time.Parse(time.RFC3339Nano, m.Filters["until"])
	if serr != nil || uerr != nil || until.Sub(since) != httpapi.DefaultWindow || m.Filters["actor_id"] != "user-3" {
		t.Fatalf("the filtered manifest's filters are %v, want actor_id and a window of 30 days", m.Filters)
	}
	out, code := runCmd(t, verifierBin, "export", filtered, "--vkey", s.vkey)
	if code != 0 || !strings.Contains(out, "ok events: all 41 events") {
		t.Fatalf("verifier export (filtered): %d\n%s", code, out)
	}
	out, code = runCmd(t, verifierBin, "export", ranged, "--vkey", s.vkey)
	if code != 0 || !strings.Contains(out, "every entry from 200 to 529 is in the package") {
		t.Fatalf("verifier export (range): %d\n%s", code, out)
	}

	// A range package with an entry taken out fails, manifest adjusted or not.
	editFile(t, filepath.Join(ranged, "events.ndjson"), func(s string) string {
		lines := strings.SplitAfter(s, "\n")
		return strings.Join(append(lines[:17:17], lines[18:]...), "")
	})
	editFile(t, filepath.Join(ranged, "manifest.json"), func(s string) string {
		return strings.Replace(s, `"count": 330`, `"count": 329`, 1)
	})
	if out, code := runCmd(t, verifierBin, "export", ranged, "--vkey", s.vkey); code != 1 || !strings.Contains(out, "entries [217]... are missing") {
		t.Fatalf("verifier export of a range with a hole: %d\n%s", code, out)
	}
	// An event changed in a package fails: a field of the client's, or the
	// receive time or submitter the ledger stated (leaf version 2).
	for _, change := range []struct{ from, to string }{
		{`"id":"doc-3"`, `"id":"doc-4"`},
		{`"received_at":"20`, `"received_at":"19`},
		{`"submitter":{"type":"open"}`, `"submitter":{"type":"token","token_id":"0000000000000000","role":"writer"}`},
	} {
		pkg := filepath.Join(t.TempDir(), "pkg")
		copyDir(t, filtered, pkg)
		editFile(t, filepath.Join(pkg, "events.ndjson"), func(s string) string {
			if !strings.Contains(s, change.from) {
				t.Fatalf("the package has no %s", change.from)
			}
			return strings.Replace(s, change.from, change.to, 1)
		})
		if out, code := runCmd(t, verifierBin, "export", pkg, "--vkey", s.vkey); code != 1 || !strings.Contains(out, "differs from the event in its leaf") {
			t.Fatalf("verifier export of an event with %s changed to %s: %d\n%s", change.from, change.to, code, out)
		}
	}

	forgeIndexRow(t, filepath.Join(dir, "index.sqlite"))
	out, code = runCmd(t, ledgerBin, "index", "verify", "--data", dir)
	if code != 1 || !strings.Contains(out, "MISMATCH entry 3: leaf hash") {
		t.Fatalf("ledger index verify of a forged row: %d\n%s", code, out)
	}
	// A query answer built from the forged row carries a proof that fails.
	got, proofs := queryEvents(t, s, "actor_id=mallory&proof=true")
	if len(got) != 1 || got[0] != 3 {
		t.Fatalf("query for the forged actor: %v", got)
	}
	proofFile := filepath.Join(dir, "forged.tlog-proof")
	if err := os.WriteFile(proofFile, []byte(proofs[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, verifierBin, "proof", proofFile, "--vkey", s.vkey); code != 1 || !strings.Contains(out, "FAIL") {
		t.Fatalf("verifier proof of a forged row: %d\n%s", code, out)
	}
	if out, code := runCmd(t, ledgerBin, "export", "--url", s.url, "--out", filepath.Join(dir, "pkg-forged"), "--actor-id", "mallory"); code != 1 || !strings.Contains(out, "not the log's") {
		t.Fatalf("ledger export of a forged row: %d\n%s", code, out)
	}

	// Rebuilding from the tiles repairs the index.
	if out, code := runCmd(t, ledgerBin, "index", "rebuild", "--data", dir); code != 0 {
		t.Fatalf("ledger index rebuild: %d\n%s", code, out)
	}
	if out, code := runCmd(t, ledgerBin, "index", "verify", "--data", dir); code != 0 || !strings.Contains(out, "checked 700 rows") {
		t.Fatalf("ledger index verify after rebuild: %d\n%s", code, out)
	}
	if got, _ := queryEvents(t, s, "actor_id=mallory"); len(got) != 0 {
		t.Fatalf("the forged row survived the rebuild: %v", got)
	}
}

// forgeIndexRow changes row 3 of the SQLite index behind its back (see forgeRow).
func forgeIndexRow(t *testing.T, path string) {
	idx, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	forgeRow(t, idx, func(q string, args ...any) error {
		_, err := idx.DB().ExecContext(t.Context(), q, args...)
		return err
	})
}

// forgeRow changes row 3 of an index into an event by mallory, consistent
// with itself: its leaf and columns agree (the leaf hash is computed from
// the leaf).
func forgeRow(t *testing.T, idx index.Store, exec func(q string, args ...any) error) {
	rows, err := idx.Query(t.Context(), index.Query{Below: 4, Order: index.ByIndex, Limit: 4})
	if err != nil || len(rows) != 4 {
		t.Fatalf("rows: %v %v", rows, err)
	}
	forged := []byte(strings.Replace(string(rows[3].Leaf), `"user-3"`, `"mallory"`, 1))
	if err := exec(`UPDATE index_entries SET leaf = $1, actor_id = 'mallory' WHERE log_index = 3`, forged); err != nil {
		t.Fatal(err)
	}
}

// TestIndexPostgresE2E runs `ledger serve --postgres`: the index lives in
// the log's database, and `ledger index verify|rebuild` work on it with the
// log read over HTTP.
func TestIndexPostgresE2E(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	dir := t.TempDir()
	dsn := pgtest.New(t)
	s := startServer(t, ledgerBin, "--data", dir, "--postgres", dsn, "--publish-interval", "10ms")
	var events []map[string]any
	for i := range 300 {
		events = append(events, testEvent(fmt.Sprintf("evt-%d", i), i))
	}
	if _, err := postEvents(http.DefaultClient, s.url, events); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got, _ := queryEvents(t, s, "actor_id=user-3&limit=1000"); len(got) == 18 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the index did not catch up with the log")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "index.sqlite")); err == nil {
		t.Fatal("serve --postgres made a SQLite index")
	}
	idxArgs := []string{"--postgres", dsn, "--log", s.url, "--vkey", s.vkey}
	if out, code := runCmd(t, ledgerBin, append([]string{"index", "verify"}, idxArgs...)...); code != 0 || !strings.Contains(out, "checked 300 rows") {
		t.Fatalf("ledger index verify: %d\n%s", code, out)
	}
	idx, err := pgindex.Open(t.Context(), pgindex.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	forgeRow(t, idx, func(q string, args ...any) error {
		_, err := idx.Pool().Exec(t.Context(), q, args...)
		return err
	})
	if out, code := runCmd(t, ledgerBin, append([]string{"index", "verify"}, idxArgs...)...); code != 1 || !strings.Contains(out, "MISMATCH entry 3:") {
		t.Fatalf("ledger index verify of a forged row: %d\n%s", code, out)
	}
	_, proofs := queryEvents(t, s, "actor_id=mallory&proof=true")
	proofFile := filepath.Join(dir, "forged.tlog-proof")
	if len(proofs) != 1 || os.WriteFile(proofFile, []byte(proofs[0]), 0o644) != nil {
		t.Fatalf("query for the forged actor: %d rows", len(proofs))
	}
	if out, code := runCmd(t, verifierBin, "proof", proofFile, "--vkey", s.vkey); code != 1 {
		t.Fatalf("verifier proof of a forged row: %d\n%s", code, out)
	}
	if out, code := runCmd(t, ledgerBin, append([]string{"index", "rebuild"}, idxArgs...)...); code != 0 {
		t.Fatalf("ledger index rebuild: %d\n%s", code, out)
	}
	if out, code := runCmd(t, ledgerBin, append([]string{"index", "verify"}, idxArgs...)...); code != 0 {
		t.Fatalf("ledger index verify after rebuild: %d\n%s", code, out)
	}
	// The database keeps the published checkpoints: after more appends,
	// entry 7 is still proven against the first one (of the 300 entries'
	// batch), and the proof verifies.
	if _, err := postEvents(http.DefaultClient, s.url, []map[string]any{testEvent("evt-more", 300)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if publishedSize(t, s.url) == 301 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the last append was not published")
		}
	}
	resp, err := http.Get(s.url + "v1/proof/7?at=first")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	firstFile := filepath.Join(dir, "first.tlog-proof")
	if resp.StatusCode != 200 || !strings.Contains(string(first), "\n300\n") || os.WriteFile(firstFile, first, 0o644) != nil {
		t.Fatalf("GET /v1/proof/7?at=first: %d %s; want the checkpoint of size 300", resp.StatusCode, first)
	}
	if out, code := runCmd(t, verifierBin, "proof", firstFile, "--vkey", s.vkey); code != 0 {
		t.Fatalf("verifier proof of entry 7 at its first checkpoint: %d\n%s", code, out)
	}
}

func editFile(t *testing.T, path string, edit func(string) string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := edit(string(b))
	if changed == string(b) {
		t.Fatalf("%s: the edit changed nothing", path)
	}
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
