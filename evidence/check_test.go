package evidence_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/evidence"
	"github.com/ledger-dev/ledger/tiles"
)

// TestCheckRejects tampers with copies of the golden packages, one way at
// a time, and checks that the checker names the fault.
func TestCheckRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkg  string
		edit func(t *testing.T, dir string)
		// report is a line the checker must report, err its error.
		report, err string
	}{
		{"event changed", "filtered", replace("events.ndjson", `"id":"doc-1"`, `"id":"doc-2"`, 1),
			"FAIL: event: entry 0: the event shown differs from the event in its leaf", "1 of 3 events failed their checks"},
		{"leaf hash changed", "filtered", replace("events.ndjson", `"leaf_hash":"Nrcl`, `"leaf_hash":"Mrcl`, 1),
			"FAIL: event: entry 2: its leaf hashes to NrcloKl/CRhvBRBvNrXLE43jcFr7St2PDkm6+O2/5cE=, not to its leaf_hash Mrcl", "1 of 3 events failed"},
		{"event shown for a leaf with another number", "filtered", replace("events.ndjson", `"new":4.5e1`, `"new":45`, 1),
			"differs from the event in its leaf", "1 of 3 events failed"},
		{"proof of another entry", "filtered", copyFile("proofs/2.tlog-proof", "proofs/0.tlog-proof"),
			"FAIL: event: entry 0: its proof is for index 2", "1 of 3 events failed"},
		{"proof missing", "range", remove("proofs/3.tlog-proof"),
			"FAIL: event: entry 3: no proof", "1 of 4 events failed"},
		{"proof against another checkpoint", "range", replace("proofs/3.tlog-proof", "\n\n", "\n\nx", 1),
			"FAIL: event: entry 3: its proof is against another checkpoint than the package's", "1 of 4 events failed"},
		{"row carries a proof", "filtered", replace("events.ndjson", `"event":{"id":"evt-2"`, `"proof":"x","event":{"id":"evt-2"`, 1),
			"FAIL: event: entry 2: its row carries a proof", "1 of 3 events failed"},
		{"row twice", "filtered", appendLine("events.ndjson", 0),
			"FAIL: event: entry 0 appears twice", "1 of 3 events failed"},
		{"count wrong", "filtered", replace("manifest.json", `"count": 3`, `"count": 4`, 1),
			"ok events:", "the package holds 3 events, but its manifest says 4"},
		{"range with a hole", "range", func(t *testing.T, dir string) {
			dropLine("events.ndjson", 1)(t, dir)
			replace("manifest.json", `"count": 4`, `"count": 3`, 1)(t, dir)
		}, "ok events:", "the range 1 to 4 is incomplete: entries [2]... are missing"},
		{"entry outside the range", "range", replace("manifest.json", `"from": 1`, `"from": 2`, 1),
			"ok events:", "entry 1 is outside the range 2 to 4"},
		{"manifest of another tree", "filtered", replace("manifest.json", `"tree_size": 6`, `"tree_size": 5`, 1),
			"", "the manifest names example.com/golden size 5"},
		{"line that is not a row", "filtered", replace("events.ndjson", "\n", "\n{\"index\":1,\"more\":true}\n", 1),
			"", "events.ndjson line 2: json: unknown field \"more\""},
		{"events missing", "filtered", remove("events.ndjson"), "", "couldn't read the events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyGolden(t, tc.pkg)
			tc.edit(t, dir)
			lines, err := check(t, dir)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
			if tc.report != "" && !strings.Contains(strings.Join(lines, "\n"), tc.report) {
				t.Errorf("reported %q, want a line with %q", lines, tc.report)
			}
		})
	}
}

// TestOpenRejects checks the manifests and packages Open refuses.
func TestOpenRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, dir string)
		err  string
	}{
		{"no manifest", remove("manifest.json"), "not an evidence package: open manifest.json"},
		{"another format", replace("manifest.json", "ledger-export/v1", "ledger-export/v3", 1), `format "ledger-export/v3", want "ledger-export/v1" or "ledger-export/v2"`},
		{"unknown member", replace("manifest.json", `"count"`, `"counted": 1, "count"`, 1), `unknown field "counted"`},
		{"range beyond the tree", replace("manifest.json", `"to": 5`, `"to": 7`, 1), "range [1, 7) is empty or beyond the tree size 6"},
		{"no checkpoint", remove("checkpoint"), "couldn't read the checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyGolden(t, "range")
			tc.edit(t, dir)
			_, err := evidence.Open(os.DirFS(dir))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if tc.name == "no manifest" && !errors.Is(err, evidence.ErrNotPackage) {
				t.Fatalf("error %v is not ErrNotPackage", err)
			}
		})
	}
}

// TestCreateRefusesFullDirectory checks that a package is never written
// over files, and that one finished into an empty directory replaces it.
func TestCreateRefusesFullDirectory(t *testing.T) {
	dir := copyGolden(t, "range")
	if _, err := evidence.Create(dir); !errors.Is(err, evidence.ErrNotEmpty) {
		t.Fatalf("Create of a package's directory: %v", err)
	}
	empty := t.TempDir()
	w, err := evidence.Create(empty)
	if err != nil {
		t.Fatalf("Create of an empty directory: %v", err)
	}
	if err := w.Add(evidence.Row{}, nil); err == nil {
		t.Fatal("Add before SetCheckpoint succeeded")
	}
	w.Close()
	// A package finished into an empty directory replaces it.
	if w, err = evidence.Create(empty); err != nil {
		t.Fatal(err)
	}
	w.SetCheckpoint([]byte("note\n"), tiles.Checkpoint{Origin: "example.com/log"})
	if err := w.Finish(); err != nil {
		t.Fatalf("Finish into an empty directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(empty, "manifest.json")); err != nil {
		t.Fatalf("the package finished into an empty directory: %v", err)
	}
	// One that filled up meanwhile is not replaced.
	filled := filepath.Join(t.TempDir(), "pkg")
	if w, err = evidence.Create(filled); err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetCheckpoint([]byte("note\n"), tiles.Checkpoint{Origin: "example.com/log"})
	os.Mkdir(filled, 0o755)
	os.WriteFile(filepath.Join(filled, "mine"), []byte("kept"), 0o644)
	if err := w.Finish(); err == nil {
		t.Fatal("Finish replaced a directory that filled up")
	}
	if b, _ := os.ReadFile(filepath.Join(filled, "mine")); string(b) != "kept" {
		t.Fatalf("the directory that filled up changed: %q", b)
	}
}

// TestAbandonedPackage checks that a package closed before Finish leaves
// nothing behind, so that the export can be retried into the same
// directory, and that a finished one leaves no partial directory.
func TestAbandonedPackage(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "pkg")
	w, err := evidence.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Fatalf("an abandoned package left %v", ents)
	}
	w, err = evidence.Create(dir)
	if err != nil {
		t.Fatalf("Create after an abandoned package: %v", err)
	}
	w.SetCheckpoint([]byte("note\n"), tiles.Checkpoint{Origin: "example.com/log"})
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 || ents[0].Name() != "pkg" {
		t.Fatalf("a finished package left %v, want only pkg", ents)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Fatalf("the finished package: %v", err)
	}
}

func copyGolden(t *testing.T, pkg string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), pkg)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(golden, pkg))); err != nil {
		t.Fatal(err)
	}
	return dir
}

// editFile changes the file name of the package in dir, which must change.
func editFile(t *testing.T, dir, name string, edit func(string) string) {
	t.Helper()
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := edit(string(b))
	if changed == string(b) {
		t.Fatalf("%s: the edit changed nothing", name)
	}
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replace(name, old, new string, n int) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		editFile(t, dir, name, func(s string) string { return strings.Replace(s, old, new, n) })
	}
}

func remove(name string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(from, to string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		b, err := os.ReadFile(filepath.Join(dir, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// appendLine appends line i of a file to it again.
func appendLine(name string, i int) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		editFile(t, dir, name, func(s string) string { return s + strings.SplitAfter(s, "\n")[i] })
	}
}

// dropLine removes line i of a file.
func dropLine(name string, i int) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		editFile(t, dir, name, func(s string) string {
			lines := strings.SplitAfter(s, "\n")
			return strings.Join(append(lines[:i:i], lines[i+1:]...), "")
		})
	}
}
