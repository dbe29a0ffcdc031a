package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// golden holds evidence packages written by `ledger export` before the
// format moved to package evidence: the verifier must keep checking them.
const golden = "../../evidence/testdata/golden-v1"

// buildVerifier builds the verifier binary and returns its path.
func buildVerifier(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "verifier")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runVerifier runs the verifier binary with args, returning its output
// and exit status.
func runVerifier(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestExportGolden runs `verifier export` on the golden packages, and on
// a copy with one event changed and a directory that is no package.
func TestExportGolden(t *testing.T) {
	vkey, err := os.ReadFile(filepath.Join(golden, "vkey"))
	if err != nil {
		t.Fatal(err)
	}
	bin := buildVerifier(t)
	trust := []string{"--vkey", strings.TrimSpace(string(vkey))}
	const checkpoint = "ok checkpoint: example.com/golden size 6 root SrHiUsuThX4zp3waeFK3qlNV49W9lnaAJOO3FKf27pE= signed by the log\n"
	out, code := runVerifier(t, bin, append([]string{"export", filepath.Join(golden, "filtered")}, trust...)...)
	if want := checkpoint + "ok events: all 3 events match their leaves, and each leaf is in the tree of size 6\n"; code != 0 || out != want {
		t.Fatalf("verifier export filtered: %d\n%s\nwant\n%s", code, out, want)
	}

	out, code = runVerifier(t, bin, append([]string{"export", filepath.Join(golden, "range"), "--json"}, trust...)...)
	var report struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Check string         `json:"check"`
			OK    bool           `json:"ok"`
			Data  map[string]any `json:"data"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &report); code != 0 || err != nil || !report.OK || len(report.Checks) != 3 ||
		report.Checks[1].Data["events"] != 4.0 || report.Checks[2].Check != "range" || report.Checks[2].Data["to"] != 5.0 {
		t.Fatalf("verifier export range --json: %d %v\n%s", code, err, out)
	}

	changed := filepath.Join(t.TempDir(), "changed")
	if err := os.CopyFS(changed, os.DirFS(filepath.Join(golden, "filtered"))); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(changed, "events.ndjson")
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(events, []byte(strings.Replace(string(b), `"action":"update"`, `"action":"read"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runVerifier(t, bin, append([]string{"export", changed}, trust...)...)
	if want := checkpoint + "FAIL: event: entry 2: the event shown differs from the event in its leaf\nFAIL: export: 1 of 3 events failed their checks\n"; code != 1 || out != want {
		t.Fatalf("verifier export of a changed event: %d\n%s\nwant\n%s", code, out, want)
	}

	if out, code := runVerifier(t, bin, append([]string{"export", golden}, trust...)...); code != 1 || !strings.Contains(out, "not an evidence package") {
		t.Fatalf("verifier export of a directory that is no package: %d\n%s", code, out)
	}
}
