package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/tiles/tilestest"
)

// TestCLI runs the real binary on a real log for what a user meets first:
// help and version, a key given as a file, a data directory given for the
// log directory, a checkpoint of another key, and a proof written by
// inclusion --proof-out that proof checks offline.
func TestCLI(t *testing.T) {
	bin := buildVerifier(t)
	data := t.TempDir()
	logDir := filepath.Join(data, "log")
	signer, vkey := tilestest.NewKey("example.com/cli")
	var entries [][]byte
	for i := range 300 {
		entries = append(entries, fmt.Appendf(nil, "entry %d", i))
	}
	if _, err := tilestest.WriteLog(logDir, signer, entries); err != nil {
		t.Fatal(err)
	}
	vkeyFile := filepath.Join(data, "log.key.pub")
	if err := os.WriteFile(vkeyFile, []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, otherVkey := tilestest.NewKey("example.com/other")
	proofFile, leafFile := filepath.Join(data, "proof"), filepath.Join(data, "leaf")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"help", []string{"--help"}, 0, []string{"usage: verifier <command>"}},
		{"command help", []string{"inclusion", "--help"}, 0, []string{"usage: verifier inclusion", "-proof-out", "-leaf-out", "-vkey"}},
		{"version", []string{"--version"}, 0, []string{"verifier ", "go1."}},
		{"vkey file", []string{"checkpoint", "--log", logDir, "--vkey", vkeyFile}, 0, []string{"ok checkpoint: example.com/cli size 300"}},
		{"bad vkey", []string{"checkpoint", "--log", logDir, "--vkey", "nonsense"}, 2, []string{"--vkey nonsense", "the file holding it"}},
		{"data directory", []string{"checkpoint", "--log", data, "--vkey", vkey}, 1, []string{"no checkpoint in " + data, "--log " + logDir + "?"}},
		{"other key", []string{"checkpoint", "--log", logDir, "--vkey", otherVkey}, 1, []string{`origin "example.com/cli" is signed by "example.com/cli"`, `the trusted keys are "example.com/other"`}},
		{"inclusion", []string{"inclusion", "--log", logDir, "--vkey", vkey, "--index", "257", "--proof-out", proofFile, "--leaf-out", leafFile}, 0, []string{"ok inclusion: entry 257"}},
		{"proof", []string{"proof", proofFile, "--vkey", vkey}, 0, []string{"ok inclusion: entry 257"}},
		{"proof and leaf", []string{"proof", proofFile, "--vkey", vkey, "--leaf", leafFile}, 0, []string{"ok inclusion: entry 257"}},
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
	if leaf, err := os.ReadFile(leafFile); err != nil || !bytes.Equal(leaf, entries[257]) {
		t.Errorf("--leaf-out wrote %q (%v), want %q", leaf, err, entries[257])
	}

	// A proof for another entry's bytes fails with the roots in base64.
	if err := os.WriteFile(leafFile, entries[256], 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runVerifier(t, bin, "proof", proofFile, "--vkey", vkey, "--leaf", leafFile)
	if code != 1 || !strings.Contains(out, "the proof leads to root ") || strings.Contains(out, "[") {
		t.Errorf("a proof of other bytes: exit %d, want 1 with the roots in base64:\n%s", code, out)
	}
}
