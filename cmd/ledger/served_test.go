package main_test

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
)

// checkServedTiles asks the server for the path of every tile and bundle
// file in logDir, and checks that each it serves is what the published
// tree holds: a partial tile or bundle must be exactly its width and the
// start of the tile at the published width, which `verifier audit` checked
// against the root. It returns how many paths were asked and refused.
func checkServedTiles(t *testing.T, url, logDir string, published uint64) (asked, refused int) {
	t.Helper()
	get := func(path string) (int, []byte) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	err := filepath.WalkDir(filepath.Join(logDir, "tile"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(logDir, p)
		tile, err := tiles.ParsePath(filepath.ToSlash(rel))
		if err != nil {
			return nil // not a tile path: never served
		}
		asked++
		code, b := get(tile.Path())
		if code != 200 {
			refused++
			return nil
		}
		cur, ok := tiles.TileFor(tile.Level, tile.Index, published)
		if tile.Entries {
			cur, ok = tiles.BundleFor(tile.Index, published)
		}
		if !ok || cur.Width < tile.Width {
			t.Errorf("%s is served beyond the published tree of size %d", tile.Path(), published)
			return nil
		}
		code, want := get(cur.Path())
		if code != 200 {
			t.Fatalf("%s of the published tree: %d", cur.Path(), code)
		}
		if tile.Entries {
			if _, err := tiles.ParseEntryBundle(b, tile.Width); err != nil {
				t.Errorf("%s is served but is not a bundle of its width: %v", tile.Path(), err)
			}
		} else if len(b) != int(tile.Width)*tiles.HashSize {
			t.Errorf("%s is served with %d bytes, want %d", tile.Path(), len(b), int(tile.Width)*tiles.HashSize)
		}
		if !bytes.HasPrefix(want, b) {
			t.Errorf("%s is served, but is not the start of %s: it is not in the published tree", tile.Path(), cur.Path())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(url, "/") && asked == 0 {
		t.Fatal("no tile files to ask for")
	}
	return asked, refused
}
