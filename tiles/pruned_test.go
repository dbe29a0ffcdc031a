package tiles_test

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

func TestPrunedRefuses(t *testing.T) {
	p := tiles.Pruned{MinimumIndex: 512}
	for _, c := range []struct {
		tile tiles.Tile
		want bool
	}{
		{tiles.Tile{Entries: true, Index: 0, Width: 256}, true},
		{tiles.Tile{Entries: true, Index: 1, Width: 256}, true},
		{tiles.Tile{Entries: true, Index: 2, Width: 256}, false},
		{tiles.Tile{Entries: true, Index: 2, Width: 3}, false},
		{tiles.Tile{Entries: true, Index: 1, Width: 10}, true},
		{tiles.Tile{Level: 0, Index: 0, Width: 256}, false},
	} {
		if got := p.Refuses(c.tile); got != c.want {
			t.Errorf("%s: Refuses = %v, want %v", c.tile.Path(), got, c.want)
		}
	}
}

func TestParsePruned(t *testing.T) {
	p, err := tiles.ParsePruned([]byte(`{"minimum_index":256,"archive":{"location":"s3://b/p","size":300,"archived_at":"2026-12-03T10:00:00Z"}}`))
	if err != nil || p.MinimumIndex != 256 || p.Archive.Size != 300 {
		t.Fatalf("ParsePruned = %+v, %v", p, err)
	}
	for _, bad := range []string{`{"minimum_index":100}`, `{"minimum_index":256,"archive":{}}`, `[`} {
		if _, err := tiles.ParsePruned([]byte(bad)); err == nil {
			t.Errorf("ParsePruned(%s) accepted", bad)
		}
	}
	err = &tiles.PrunedError{Path: "tile/entries/000", Pruned: p}
	if !errors.Is(err, tiles.ErrPruned) || !strings.Contains(err.Error(), "minimum index is 256; archived at s3://b/p") {
		t.Errorf("PrunedError: %v", err)
	}
}

// prunedLog writes a log of size entries to a directory and prunes it to
// the minimum index m, archived at a location; it returns the directory and
// the verified checkpoint.
func prunedLog(t *testing.T, size, m uint64) (string, tiles.Checkpoint) {
	t.Helper()
	dir, cp := auditLog(t, size)
	p := tiles.Pruned{MinimumIndex: m, Archive: &tiles.Archive{Location: "file:///archive", Size: m, ArchivedAt: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}}
	if err := tilestest.Prune(dir, p); err != nil {
		t.Fatal(err)
	}
	return dir, cp
}

// TestDirFetcherPruned: a missing bundle that the directory's pruned.json
// refuses is a PrunedError; a missing bundle it keeps, and a missing hash
// tile, are not found; a pruned.json that does not parse is an error.
func TestDirFetcherPruned(t *testing.T) {
	dir, _ := prunedLog(t, 600, 512)
	f := tiles.DirFetcher(dir)
	for _, path := range []string{"tile/entries/000", "tile/entries/001"} {
		_, err := f.Fetch(t.Context(), path)
		var pe *tiles.PrunedError
		if !errors.As(err, &pe) || pe.Path != path || pe.Pruned.MinimumIndex != 512 || pe.Pruned.Archive.Location != "file:///archive" {
			t.Errorf("Fetch(%s) = %v, want a PrunedError of minimum index 512", path, err)
		}
	}
	if _, err := f.Fetch(t.Context(), "tile/entries/002.p/88"); err != nil {
		t.Errorf("a bundle kept: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "tile/entries/002.p/88")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "tile/0/000")); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"tile/entries/002.p/88", "tile/0/000", "tile/entries/005"} {
		if _, err := f.Fetch(t.Context(), path); !errors.Is(err, tiles.ErrNotFound) || errors.Is(err, tiles.ErrPruned) {
			t.Errorf("Fetch(%s) of a missing resource the log does not refuse = %v, want ErrNotFound", path, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, tiles.PrunedPath), []byte(`{"minimum_index":500}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(t.Context(), "tile/entries/000"); err == nil || errors.Is(err, tiles.ErrPruned) || !strings.Contains(err.Error(), "not a multiple of 256") {
		t.Errorf("Fetch with a bad pruned.json = %v", err)
	}
}

// TestHTTPFetcherPruned: a 410 whose body is a Pruned document, as a
// pruned ledger answers, is a PrunedError; other 410s are plain errors.
func TestHTTPFetcherPruned(t *testing.T) {
	bodies := map[string]string{
		"/tile/entries/000": `{"error":"tile/entries/000 is pruned: the minimum index is 512; archived at s3://b/p","status":"pruned","minimum_index":512,"archive":{"location":"s3://b/p","size":600,"archived_at":"2026-12-03T10:00:00Z"}}`,
		"/tile/entries/001": `gone`,
		"/tile/entries/002": `{"error":"gone"}`,
		"/tile/entries/003": `{"minimum_index":100}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGone)
		w.Write([]byte(bodies[r.URL.Path]))
	}))
	defer srv.Close()
	f, err := tiles.NewHTTPFetcher(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Fetch(t.Context(), "tile/entries/000")
	var pe *tiles.PrunedError
	if !errors.As(err, &pe) || pe.Pruned.MinimumIndex != 512 || pe.Pruned.Archive.Size != 600 || !strings.Contains(err.Error(), "archived at s3://b/p") {
		t.Errorf("a pruned answer: %v", err)
	}
	for _, path := range []string{"tile/entries/001", "tile/entries/002", "tile/entries/003"} {
		if _, err := f.Fetch(t.Context(), path); err == nil || errors.Is(err, tiles.ErrPruned) || errors.Is(err, tiles.ErrNotFound) || !strings.Contains(err.Error(), "410") {
			t.Errorf("a 410 that is no Pruned document (%s): %v", path, err)
		}
	}
}

// TestAuditPruned audits a log of 3512 entries pruned to the minimum index
// 512: the hash tiles and the root verify, the 3000 entries that remain are
// hashed again, and the pruned range is reported. A bundle refused above
// the claim, a claim that is not a multiple of 256 and a changed level-0
// tile of a pruned bundle fail.
func TestAuditPruned(t *testing.T) {
	dir, cp := prunedLog(t, 3512, 512)
	for _, workers := range []int{1, 3} {
		res, err := tiles.AuditLog(t.Context(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if res.Pruned.MinimumIndex != 512 || res.Refused != 512 || res.RefusedEnd != 512 || res.Rehashed != 3000 {
			t.Errorf("%d workers: %+v", workers, res)
		}
	}
	// Over HTTP, with 410 answers as a ledger gives them for the missing
	// bundles; pruned.json is served from the directory.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := os.Stat(filepath.Join(dir, r.URL.Path))
		if strings.HasPrefix(r.URL.Path, "/tile/entries/") && errors.Is(err, os.ErrNotExist) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusGone)
			json.NewEncoder(w).Encode(tiles.Pruned{MinimumIndex: 512})
			return
		}
		http.FileServer(http.Dir(dir)).ServeHTTP(w, r)
	}))
	defer srv.Close()
	hf, err := tiles.NewHTTPFetcher(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := tiles.AuditLog(t.Context(), hf, cp, tiles.AuditOptions{}); err != nil || res.Refused != 512 || res.Rehashed != 3000 {
		t.Errorf("AuditLog over HTTP: %+v, %v", res, err)
	}

	writePruned := func(doc string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, tiles.PrunedPath), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A claim of more than the log refuses is no failure: bundle 1 is
	// served, and hashed.
	writePruned(`{"minimum_index":768}`)
	if res, err := tiles.AuditLog(t.Context(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{}); err != nil || res.Refused != 512 || res.Rehashed != 3000 {
		t.Errorf("a claim above what is refused: %+v, %v", res, err)
	}
	writePruned(`{"minimum_index":256}`)
	if _, err := tiles.AuditLog(t.Context(), hf, cp, tiles.AuditOptions{}); err == nil ||
		!strings.Contains(err.Error(), "tile/entries/001 is refused") || !strings.Contains(err.Error(), "claims the minimum index 256") {
		t.Errorf("a bundle refused above the claim: %v", err)
	}
	// In a directory, a bundle missing above the claim is not found.
	if _, err := tiles.AuditLog(t.Context(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{}); !errors.Is(err, tiles.ErrNotFound) {
		t.Errorf("a bundle missing above the claim: %v", err)
	}
	writePruned(`{"minimum_index":500}`)
	if _, err := tiles.AuditLog(t.Context(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{}); err == nil || !strings.Contains(err.Error(), "not a multiple of 256") {
		t.Errorf("a claim not a multiple of 256: %v", err)
	}
	// A log that removed bundles and serves no pruned.json lost entries.
	if err := os.Remove(filepath.Join(dir, tiles.PrunedPath)); err != nil {
		t.Fatal(err)
	}
	if _, err := tiles.AuditLog(t.Context(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{}); !errors.Is(err, tiles.ErrNotFound) {
		t.Errorf("bundles missing without a claim: %v", err)
	}
	writePruned(`{"minimum_index":512}`)
	tile := filepath.Join(dir, "tile/0/001")
	b, err := os.ReadFile(tile)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 1
	if err := os.WriteFile(tile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tiles.AuditLog(t.Context(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{}); !errors.Is(err, tiles.ErrTampered) {
		t.Errorf("a changed level-0 tile of a pruned bundle: %v", err)
	}
}
