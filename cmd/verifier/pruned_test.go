package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
	"github.com/ledger-dev/ledger/tiles/tilestest"
)

// TestPrunedAudit runs the real verifier on a real pruned log: a log of
// 3512 entries is archived with the real `ledger mirror`, then pruned to the
// minimum index 512 as a ledger prunes it (bundles removed, pruned.json
// written). `verifier audit` passes and reports the pruned range; with
// --archive it re-hashes the pruned entries there, from a directory and
// over HTTP; a proof of a pruned entry written before still verifies, and
// reading the entry says it is pruned. A changed archive, an archive of
// another log and a claim the log does not keep fail.
func TestPrunedAudit(t *testing.T) {
	bin := buildVerifier(t)
	ledgerBin := filepath.Join(t.TempDir(), "ledger")
	if out, err := exec.Command("go", "build", "-o", ledgerBin, "../ledger").CombinedOutput(); err != nil {
		t.Fatalf("go build ledger: %v\n%s", err, out)
	}
	work := t.TempDir()
	logDir, archive := filepath.Join(work, "log"), filepath.Join(work, "archive")
	signer, vkey := tilestest.NewKey("example.com/pruned")
	if _, err := tilestest.Generate(logDir, signer, 3512); err != nil {
		t.Fatal(err)
	}
	proofFile := filepath.Join(work, "entry10.tlog-proof")
	if out, code := runVerifier(t, bin, "inclusion", "--log", logDir, "--vkey", vkey, "--index", "10", "--proof-out", proofFile); code != 0 {
		t.Fatalf("inclusion before pruning: %d\n%s", code, out)
	}
	if out, err := exec.Command(ledgerBin, "mirror", "--from", logDir, "--to", archive, "--vkey", vkey).CombinedOutput(); err != nil {
		t.Fatalf("ledger mirror: %v\n%s", err, out)
	}
	archivedAt := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	if err := tilestest.Prune(logDir, tiles.Pruned{MinimumIndex: 512, Archive: &tiles.Archive{Location: "file://" + archive, Size: 3512, ArchivedAt: archivedAt}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(archive)))
	defer srv.Close()

	pruned := "ok pruned: entries 0–511 pruned (minimum index 512; archived at file://" + archive + " (size 3512, 2026-12-03T10:00:00Z)); every hash tile verified; 3000 remaining entries re-hashed"
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"audit", []string{"audit", "--log", logDir, "--vkey", vkey}, 0, []string{pruned, "ok audit: every tile and the 3000 entries that remain recompute root"}},
		{"archive", []string{"audit", "--log", logDir, "--vkey", vkey, "--archive", archive}, 0, []string{pruned,
			"ok archive checkpoint: example.com/pruned size 3512", "ok consistency: size 3512 extends size 3512", "ok archive: all 3512 entries",
			"ok archived: the 512 entries the log pruned are re-hashed from the archive at " + archive}},
		{"archive over HTTP", []string{"audit", "--log", logDir, "--vkey", vkey, "--archive", srv.URL}, 0, []string{pruned, "ok archived: the 512 entries"}},
		{"old proof", []string{"proof", proofFile, "--vkey", vkey}, 0, []string{"ok inclusion: entry 10 "}},
		{"pruned entry", []string{"inclusion", "--log", logDir, "--vkey", vkey, "--index", "10"}, 1, []string{"tile/entries/000 is pruned: the minimum index is 512; archived at file://" + archive}},
		{"kept entry", []string{"inclusion", "--log", logDir, "--vkey", vkey, "--index", "600"}, 0, []string{"ok inclusion: entry 600"}},
		{"bucket", []string{"audit", "--log", logDir, "--vkey", vkey, "--archive", "s3://b/p"}, 2, []string{"ledger mirror --from s3://b/p --to DIR"}},
	} {
		out, code := runVerifier(t, bin, tc.args...)
		if code != tc.code {
			t.Errorf("%s: verifier %s exited %d, want %d\n%s", tc.name, strings.Join(tc.args, " "), code, tc.code, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output does not say %q:\n%s", tc.name, w, out)
			}
		}
	}

	// With --json, the pruned range is in the pruned check's data.
	out, code := runVerifier(t, bin, "audit", "--log", logDir, "--vkey", vkey, "--json")
	var report struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Check string         `json:"check"`
			Data  map[string]any `json:"data"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &report); code != 0 || err != nil || !report.OK || len(report.Checks) != 3 || report.Checks[2].Check != "pruned" ||
		report.Checks[2].Data["minimum_index"] != 512.0 || report.Checks[2].Data["refused"] != 512.0 || report.Checks[2].Data["rehashed"] != 3000.0 {
		t.Errorf("verifier audit --json of the pruned log: %d %v\n%s", code, err, out)
	}

	// An archive of other entries, signed with the same key, fails.
	other := filepath.Join(work, "other")
	entries := make([][]byte, 600)
	for i := range entries {
		entries[i] = []byte("another entry")
	}
	if _, err := tilestest.WriteLog(other, signer, entries); err != nil {
		t.Fatal(err)
	}
	if out, code := runVerifier(t, bin, "audit", "--log", logDir, "--vkey", vkey, "--archive", other); code != 1 || !strings.Contains(out, "is not a copy of this log") {
		t.Errorf("an archive of other entries: exit %d\n%s", code, out)
	}
	// A changed entry in the archive fails its audit.
	bundle := filepath.Join(archive, "tile/entries/000")
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	b[10] ^= 1
	if err := os.WriteFile(bundle, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runVerifier(t, bin, "audit", "--log", logDir, "--vkey", vkey, "--archive", archive); code != 1 || !strings.Contains(out, "FAIL: audit: the archive at "+archive+": log data does not match") {
		t.Errorf("a changed archive: exit %d\n%s", code, out)
	}
	// A log that claims less than it removed fails.
	if err := os.WriteFile(filepath.Join(logDir, tiles.PrunedPath), []byte(`{"minimum_index":256}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runVerifier(t, bin, "audit", "--log", logDir, "--vkey", vkey); code != 1 || !strings.Contains(out, "tile/entries/001: not found") {
		t.Errorf("bundles removed above the claim: exit %d\n%s", code, out)
	}
}
