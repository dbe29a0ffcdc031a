package tiles_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
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
