package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEventKeysPackage exports evidence packages with event keys from a
// real `ledger serve` that seals alice's and bob's emails, changes and a
// tag, filtered and by range: they show the sealed members in clear, each
// sealed event with the key that opens it (format ledger-export/v2), and
// `verifier export` checks them against their leaves; one changed byte of
// plaintext fails it.
func TestEventKeysPackage(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	s := startServer(t, ledgerBin, "--data", t.TempDir(), "--config", sealingConfig(t, t.TempDir()), "--origin", "example.com/event-keys", "--publish-interval", "20ms")
	plaintext := []string{"alice@example.com", "alice-old-address", "MRN-4242", "bob@example.com", "bob-new-role"}
	events := `[{"action":"update","actor":{"id":"alice","type":"user","email":"alice@example.com"},"resource":{"type":"profile","id":"p-1"},"result":"success",` +
		`"changes":{"address":{"old":"alice-old-address","new":"x"}},"tags":{"mrn":"MRN-4242","ward":"b"}},` +
		`{"action":"update","actor":{"id":"bob","type":"user","email":"bob@example.com"},"resource":{"type":"profile","id":"p-2"},"result":"success",` +
		`"changes":{"role":{"old":1.50,"new":"bob-new-role"}}},` +
		`{"action":"read","actor":{"id":"carol","type":"user"},"resource":{"type":"profile","id":"p-3"},"result":"success"}]`
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", "", events); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	waitFor(t, s.url+"v1/events?actor_id=alice", "", "alice-old-address")

	filtered, byRange := filepath.Join(t.TempDir(), "alice-keys"), filepath.Join(t.TempDir(), "range-keys")
	for _, args := range [][]string{
		{"--out", filtered, "--actor-id", "alice", "--since", "2000-01-01T00:00:00Z"},
		{"--out", byRange, "--from", "0", "--to", "3"},
	} {
		if out, code := runCmd(t, ledgerBin, append([]string{"export", "--url", s.url, "--vkey", s.vkey, "--event-keys"}, args...)...); code != 0 {
			t.Fatalf("ledger export --event-keys %v: exit %d\n%s", args, code, out)
		}
	}
	if out := verify(t, verifierBin, "export", filtered, "--vkey", s.vkey); !strings.Contains(out, "the sealed members of 1, shown in clear, open from their leaves with their event keys") {
		t.Errorf("verifier export of a package with an event key:\n%s", out)
	}
	if out := verify(t, verifierBin, "export", byRange, "--vkey", s.vkey); !strings.Contains(out, "the sealed members of 2, shown in clear") ||
		!strings.Contains(out, "every entry from 0 to 2 is in the package") {
		t.Errorf("verifier export of a range package with event keys:\n%s", out)
	}
	events2, err := os.ReadFile(filepath.Join(byRange, "events.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plaintext {
		if !bytes.Contains(events2, []byte(p)) {
			t.Errorf("the package with event keys does not show %q in clear", p)
		}
	}
	if m, err := os.ReadFile(filepath.Join(byRange, "manifest.json")); err != nil || !bytes.Contains(m, []byte(`"format": "ledger-export/v2"`)) {
		t.Errorf("manifest of a package with event keys: %s %v", m, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(events2)), "\n") {
		var row struct {
			Event struct {
				Sealed any `json:"sealed"`
			} `json:"event"`
			EventKey []byte `json:"event_key"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		if (row.Event.Sealed == "open") != (len(row.EventKey) == 32) {
			t.Errorf("a row shows sealed %v with an event key of %d bytes: %s", row.Event.Sealed, len(row.EventKey), line)
		}
	}
	for _, change := range [][2]string{{"bob@example.com", "bob@example.con"}, {`"old":1.50`, `"old":1.5`}} {
		changed := filepath.Join(t.TempDir(), "changed")
		if err := os.CopyFS(changed, os.DirFS(byRange)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(events2, []byte(change[0])) {
			t.Fatalf("the package does not show %s", change[0])
		}
		if err := os.WriteFile(filepath.Join(changed, "events.ndjson"), bytes.Replace(events2, []byte(change[0]), []byte(change[1]), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := runCmd(t, verifierBin, "export", changed, "--vkey", s.vkey); code != 1 ||
			!strings.Contains(out, "FAIL: event: entry 1: the event shown differs from the event its leaf committed to, opened with its event key") {
			t.Errorf("verifier export of a package with %s changed to %s: exit %d\n%s", change[0], change[1], code, out)
		}
	}
}

// TestErasedVerified erases alice through a real `ledger serve` with
// access control and sealing, then: `verifier proof` of her old receipt
// says the members are sealed offline and, asking the ledger, that the
// payload is erased; `verifier audit` says her entries are verified with
// their payload erased (from the log's own erasure event), never a
// failure; an export with event keys has bob's key and not hers, and
// passes.
func TestErasedVerified(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	data := t.TempDir()
	writer := newToken(t, ledgerBin, data, "--role", "writer")
	admin := newToken(t, ledgerBin, data, "--role", "admin")
	auditor := newToken(t, ledgerBin, data, "--role", "auditor")
	s := startServer(t, ledgerBin, "--data", data, "--config", sealingConfig(t, t.TempDir()), "--origin", "example.com/erased", "--publish-interval", "20ms")
	events := `[{"action":"update","actor":{"id":"alice","type":"user","email":"alice@example.com"},"resource":{"type":"profile"},"result":"success"},` +
		`{"action":"update","actor":{"id":"bob","type":"user","email":"bob@example.com"},"resource":{"type":"profile"},"result":"success"}]`
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", writer, events); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	code, proof := call(t, http.DefaultClient, "GET", s.url+"v1/proof/0", auditor, "")
	proofFile := filepath.Join(t.TempDir(), "alice.tlog-proof")
	if code != 200 || os.WriteFile(proofFile, proof, 0o644) != nil {
		t.Fatalf("GET /v1/proof/0: %d %s", code, proof)
	}
	var entry struct {
		Leaf []byte `json:"leaf"`
	}
	if err := json.Unmarshal(bodyOf(t, s.url+"v1/events/0", auditor), &entry); err != nil {
		t.Fatal(err)
	}
	m := leafKID.FindSubmatch(entry.Leaf)
	if m == nil {
		t.Fatalf("alice's leaf is not sealed: %s", entry.Leaf)
	}
	aliceKID := string(m[1])
	sealedLine := "ok sealed: inclusion verified; members of the event are sealed under subject key " + aliceKID
	if out := verify(t, verifierBin, "proof", proofFile, "--vkey", s.vkey, "--ledger", s.url, "--token", auditor); !strings.Contains(out, sealedLine) {
		t.Errorf("verifier proof --ledger before the erasure:\n%s", out)
	}
	waitFor(t, s.url+"v1/events?actor_id=alice", auditor, "alice@example.com")
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", admin, `{"subject":"alice"}`); code != 200 || !strings.Contains(string(b), aliceKID) {
		t.Fatalf("erasure of alice: %d %s", code, b)
	}
	waitFor(t, s.url+"v1/events?event_type=privacy.erasure_executed", auditor, aliceKID)

	if out := verify(t, verifierBin, "proof", proofFile, "--vkey", s.vkey); !strings.Contains(out, sealedLine) {
		t.Errorf("verifier proof offline after the erasure:\n%s", out)
	}
	if out := verify(t, verifierBin, "proof", proofFile, "--vkey", s.vkey, "--ledger", s.url, "--token", auditor); !strings.Contains(out, "ok sealed: inclusion verified; payload erased (the ledger destroyed subject key "+aliceKID) {
		t.Errorf("verifier proof --ledger after the erasure:\n%s", out)
	}
	if out, code := runCmd(t, verifierBin, "proof", proofFile, "--vkey", s.vkey, "--ledger", s.url, "--token", writer); code != 1 || !strings.Contains(out, "403") {
		t.Errorf("verifier proof --ledger with a token that may not read the event: exit %d\n%s", code, out)
	}
	t.Setenv("LEDGER_TOKEN", auditor) // the verifier reads the entry bundles with it
	out := verify(t, verifierBin, "audit", "--log", s.url, "--vkey", s.vkey)
	if !regexp.MustCompile(`ok sealed: \d+ entries hold members sealed under \d+ subject keys; inclusion verified for all; payload erased for 1 of them, whose keys the log's privacy.erasure_executed events record as destroyed: ` + aliceKID + ` \(entry \d+\)`).MatchString(out) {
		t.Errorf("verifier audit after the erasure:\n%s", out)
	}

	pkg := filepath.Join(t.TempDir(), "erased-package")
	if out, code := runCmd(t, ledgerBin, "export", "--url", s.url, "--token", auditor, "--out", pkg, "--from", "0", "--to", "2", "--vkey", s.vkey, "--event-keys"); code != 0 {
		t.Fatalf("ledger export --event-keys after the erasure: exit %d\n%s", code, out)
	}
	if out := verify(t, verifierBin, "export", pkg, "--vkey", s.vkey); !strings.Contains(out, "the sealed members of 1, shown in clear") {
		t.Errorf("verifier export of a package with bob's key and not alice's:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(pkg, "events.ndjson"))
	if err != nil || !bytes.Contains(b, []byte("bob@example.com")) || bytes.Contains(b, []byte("alice@")) {
		t.Errorf("the package after alice's erasure: %v\n%s", err, b)
	}
}

// TestPrunedSealedProof prunes sealed events of a real `ledger serve`: the
// old receipt of a pruned sealed event still verifies, and `verifier proof
// --ledger` says the ledger pruned it (and so cannot say whether its
// payload is erased) instead of failing; `verifier audit` passes, counting
// the sealed entries that remain.
func TestPrunedSealedProof(t *testing.T) {
	master := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(master, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newPruneLog(t, "retention:\n  rules:\n    - {min: 1s}\nsealing:\n  master_key_file: "+master+"\n")
	s := p.serve(t, "--init")
	events := make([]string, 300)
	for i := range events {
		events[i] = fmt.Sprintf(`{"action":"read","actor":{"id":"alice","type":"user","email":"alice@example.com"},"resource":{"type":"doc","id":"d-%d"},"result":"success"}`, i)
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", p.writer, "["+strings.Join(events, ",")+"]"); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	code, proof := call(t, http.DefaultClient, "GET", s.url+"v1/proof/5", p.auditor, "")
	proofFile := filepath.Join(t.TempDir(), "entry-5.tlog-proof")
	if code != 200 || os.WriteFile(proofFile, proof, 0o600) != nil {
		t.Fatalf("proof of entry 5: %d %s", code, proof)
	}
	time.Sleep(1200 * time.Millisecond) // past every min
	if out := p.prune(t, s); !strings.Contains(out, "the minimum index is now 256") {
		t.Fatalf("ledger prune:\n%s", out)
	}
	out, code := runCmd(t, p.verifierBin, "proof", proofFile, "--vkey", s.vkey, "--ledger", s.url, "--token", p.auditor)
	if code != 0 || !strings.Contains(out, "ok ledger: the ledger has pruned entry 5 (v1/events/5 is pruned: the minimum index is 256") ||
		!strings.Contains(out, "ok sealed: inclusion verified; members of the event are sealed under subject key") {
		t.Errorf("verifier proof --ledger of a pruned sealed event: exit %d\n%s", code, out)
	}
	out, code = runCmd(t, p.verifierBin, "audit", "--log", s.url, "--vkey", s.vkey, "--token", p.auditor)
	if code != 0 || !strings.Contains(out, "ok pruned: entries 0–255 pruned (minimum index 256") || !regexp.MustCompile(`ok sealed: \d+ entries hold members sealed`).MatchString(out) {
		t.Errorf("verifier audit of the pruned sealed log: exit %d\n%s", code, out)
	}
}
