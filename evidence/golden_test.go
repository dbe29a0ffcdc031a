package evidence_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/evidence"
	"github.com/ledger-dev/ledger/tiles"
)

// golden is the directory of the packages written by `ledger export`
// before this package existed (see its README.md).
const golden = "testdata/golden-v1"

// goldenTrust is the trust policy the golden packages verify under.
func goldenTrust(t *testing.T) *tiles.Policy {
	t.Helper()
	vkey, err := os.ReadFile(filepath.Join(golden, "vkey"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := tiles.NewLogPolicy(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// check opens and checks the package in dir, and returns the lines it
// reported ("ok NAME: DETAIL" or "FAIL: NAME: ERR") and its error.
func check(t *testing.T, dir string) ([]string, error) {
	t.Helper()
	p, err := evidence.Open(os.DirFS(dir))
	if err != nil {
		return nil, err
	}
	sc, err := goldenTrust(t).Verify(p.Checkpoint)
	if err != nil {
		t.Fatalf("the checkpoint of %s does not verify: %v", dir, err)
	}
	var lines []string
	err = p.Check(sc, func(r evidence.Result) {
		if r.Err != nil {
			lines = append(lines, "FAIL: "+r.Check+": "+r.Err.Error())
		} else {
			lines = append(lines, "ok "+r.Check+": "+r.Detail)
		}
	})
	return lines, err
}

func TestGoldenPackagesVerify(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{"filtered", []string{"ok events: all 3 events match their leaves, and each leaf is in the tree of size 6"}},
		{"range", []string{"ok events: all 4 events match their leaves, and each leaf is in the tree of size 6",
			"ok range: every entry from 1 to 4 is in the package and proven: nothing in the range was left out"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			got, err := check(t, filepath.Join(golden, tc.dir))
			if err != nil || strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestWriterWritesGolden writes each golden package again from what its
// writer was given, and compares every file byte for byte: the filtered
// package from the ledger's answer to its export (unescaped JSON, as a
// ledger sends it), the range package from its own rows.
func TestWriterWritesGolden(t *testing.T) {
	for _, tc := range []struct{ dir, rows string }{
		{"filtered", "../ledger/httpapi/testdata/golden-export.ndjson"},
		{"range", filepath.Join(golden, "range", "events.ndjson")},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			want := filepath.Join(golden, tc.dir)
			p, err := evidence.Open(os.DirFS(want))
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "pkg")
			w, err := evidence.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			sc, err := goldenTrust(t).Verify(p.Checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			w.SetCheckpoint(p.Checkpoint, sc.Checkpoint)
			w.Manifest.Created, w.Manifest.Filters, w.Manifest.Range = p.Manifest.Created, p.Manifest.Filters, p.Manifest.Range
			for _, row := range readRows(t, tc.rows) {
				proof := readProof(t, want, row.Index)
				if err := w.Add(row, proof.Hashes); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Finish(); err != nil {
				t.Fatal(err)
			}
			sameFiles(t, want, out)
		})
	}
}

func readRows(t *testing.T, name string) []evidence.Row {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []evidence.Row
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var r evidence.Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows
}

func readProof(t *testing.T, dir string, index uint64) *tiles.Proof {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "proofs", strconv.FormatUint(index, 10)+".tlog-proof"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := tiles.ParseProof(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sameFiles fails unless the trees want and got hold the same files with
// the same bytes.
func sameFiles(t *testing.T, want, got string) {
	t.Helper()
	files := func(root string) map[string][]byte {
		m := map[string][]byte{}
		err := fs.WalkDir(os.DirFS(root), ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			m[path], err = os.ReadFile(filepath.Join(root, path))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	w, g := files(want), files(got)
	for name, b := range w {
		if !bytes.Equal(g[name], b) {
			t.Errorf("%s differs:\n got %q\nwant %q", name, g[name], b)
		}
	}
	for name := range g {
		if _, ok := w[name]; !ok {
			t.Errorf("%s written, not in %s", name, want)
		}
	}
}
