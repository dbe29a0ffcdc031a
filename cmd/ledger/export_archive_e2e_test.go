package main_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
	"github.com/ledger-dev/ledger/tiles/tilestest"
)

// TestExportArchivedRange: a range export of a pruned log reads the
// bundles the log refuses from its archive (the one its 410 answer names,
// or --archive), authenticated by the log's own hash tiles, and the
// package passes `verifier export`. The log is archived with the real
// `ledger mirror`, pruned as a ledger prunes (bundles removed, pruned.json
// written), and served over HTTP with the 410 answers of docs/formats.md.
func TestExportArchivedRange(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	work := t.TempDir()
	logDir, archive := filepath.Join(work, "log"), filepath.Join(work, "archive")
	signer, vkey := tilestest.NewKey("example.com/archived")
	if _, err := tilestest.Generate(logDir, signer, 700); err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, ledgerBin, "mirror", "--from", logDir, "--to", archive, "--vkey", vkey); code != 0 {
		t.Fatalf("ledger mirror: exit %d\n%s", code, out)
	}
	pruned := tiles.Pruned{MinimumIndex: 512, Archive: &tiles.Archive{Location: "file://" + archive, Size: 700, ArchivedAt: time.Now().UTC()}}
	if err := tilestest.Prune(logDir, pruned); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/")
		b, err := tiles.DirFetcher(logDir).Fetch(r.Context(), path)
		var pe *tiles.PrunedError
		switch {
		case errors.As(err, &pe):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusGone)
			json.NewEncoder(w).Encode(map[string]any{"error": pe.Error(), "status": "pruned", "minimum_index": pe.Pruned.MinimumIndex, "archive": pe.Pruned.Archive})
		case err != nil:
			http.NotFound(w, r)
		default:
			w.Write(b)
		}
	}))
	defer srv.Close()

	pkg := filepath.Join(work, "pkg")
	if out, code := runCmd(t, ledgerBin, "export", "--url", srv.URL, "--vkey", vkey, "--from", "100", "--to", "600", "--out", pkg); code != 0 {
		t.Fatalf("ledger export of a range partly archived: exit %d\n%s", code, out)
	}
	if out := verify(t, verifierBin, "export", pkg, "--vkey", vkey); !strings.Contains(out, "every entry from 100 to 599 is in the package and proven") {
		t.Errorf("verifier export of the archived range:\n%s", out)
	}

	// Moved, the archive is found with --archive only.
	moved := filepath.Join(work, "moved")
	if err := os.Rename(archive, moved); err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, ledgerBin, "export", "--url", srv.URL, "--vkey", vkey, "--from", "0", "--to", "10", "--out", filepath.Join(work, "lost")); code != 1 ||
		!strings.Contains(out, "tile/entries/000 is pruned: the minimum index is 512; archived at file://"+archive) || !strings.Contains(out, "its archive") {
		t.Errorf("ledger export with the archive gone: exit %d\n%s", code, out)
	}
	pkg2 := filepath.Join(work, "pkg2")
	if out, code := runCmd(t, ledgerBin, "export", "--url", srv.URL, "--vkey", vkey, "--from", "0", "--to", "10", "--out", pkg2, "--archive", moved); code != 0 {
		t.Fatalf("ledger export --archive: exit %d\n%s", code, out)
	}
	verify(t, verifierBin, "export", pkg2, "--vkey", vkey)

	// An archive whose bundle was changed fails: the log's tiles
	// authenticate what it serves.
	bundle := filepath.Join(moved, "tile/entries/000")
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	b[5] ^= 1
	if err := os.WriteFile(bundle, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, ledgerBin, "export", "--url", srv.URL, "--vkey", vkey, "--from", "0", "--to", "10", "--out", filepath.Join(work, "bad"), "--archive", moved); code != 1 {
		t.Errorf("ledger export from a changed archive: exit %d\n%s", code, out)
	}
}
