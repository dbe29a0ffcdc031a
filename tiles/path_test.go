package tiles_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
)

// pathCases are tiles and their canonical paths: SPECS §9 H (tessera
// api/layout paths_test.go) plus the group boundaries of the index encoding.
var pathCases = []struct {
	tile tiles.Tile
	path string
}{
	// tessera TilePath / EntriesPath.
	{tiles.Tile{Level: 0, Index: 1234067, Width: 8}, "tile/0/x001/x234/067.p/8"},
	{tiles.Tile{Level: 15, Index: 455667, Width: 256}, "tile/15/x455/667"},
	{tiles.Tile{Level: 15, Index: 123456789, Width: 41}, "tile/15/x123/x456/789.p/41"},
	{tiles.Tile{Index: 1234067, Width: 8, Entries: true}, "tile/entries/x001/x234/067.p/8"},
	// tessera EntriesPathForLogIndex(256, 257), (251, 255) and
	// (123456789·256, 123456790·256): see TestBundleFor for the derivation.
	{tiles.Tile{Index: 1, Width: 1, Entries: true}, "tile/entries/001.p/1"},
	{tiles.Tile{Index: 0, Width: 255, Entries: true}, "tile/entries/000.p/255"},
	{tiles.Tile{Index: 123456789, Width: 256, Entries: true}, "tile/entries/x123/x456/789"},
	// The index groups: 0 → 000, 999 → 999, 1000 → x001/000.
	{tiles.Tile{Level: 0, Index: 0, Width: 256}, "tile/0/000"},
	{tiles.Tile{Level: 0, Index: 5, Width: 256, Entries: true}, "tile/entries/005"},
	{tiles.Tile{Level: 1, Index: 999, Width: 1}, "tile/1/999.p/1"},
	{tiles.Tile{Level: 2, Index: 1000, Width: 255}, "tile/2/x001/000.p/255"},
	{tiles.Tile{Level: 0, Index: 1001000, Width: 256}, "tile/0/x001/x001/000"},
	{tiles.Tile{Level: 0, Index: 1000000, Width: 256}, "tile/0/x001/x000/000"},
	{tiles.Tile{Level: 63, Index: 999999999999999999, Width: 255}, "tile/63/x999/x999/x999/x999/x999/999.p/255"},
	{tiles.Tile{Level: 7, Index: math.MaxUint64, Width: 256}, "tile/7/x018/x446/x744/x073/x709/x551/615"},
}

func TestTilePath(t *testing.T) {
	for _, tc := range pathCases {
		if got := tc.tile.Path(); got != tc.path {
			t.Errorf("%+v.Path() = %q, want %q", tc.tile, got, tc.path)
		}
		if got := tc.tile.String(); got != tc.path {
			t.Errorf("%+v.String() = %q, want %q", tc.tile, got, tc.path)
		}
		if got, want := tc.tile.Full(), tc.tile.Width == 256; got != want {
			t.Errorf("%+v.Full() = %v, want %v", tc.tile, got, want)
		}
	}
}

func TestParsePathRoundTrip(t *testing.T) {
	for _, tc := range pathCases {
		got, err := tiles.ParsePath(tc.path)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.path, err)
			continue
		}
		if got != tc.tile {
			t.Errorf("ParsePath(%q) = %+v, want %+v", tc.path, got, tc.tile)
		}
	}
	// Random tiles survive Path then ParsePath.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		tl := tiles.Tile{Index: rng.Uint64() >> rng.UintN(64), Width: uint16(1 + rng.UintN(256))}
		if rng.UintN(4) == 0 {
			tl.Entries = true
		} else {
			tl.Level = uint8(rng.UintN(64))
		}
		got, err := tiles.ParsePath(tl.Path())
		if err != nil || got != tl {
			t.Fatalf("ParsePath(%q) = %+v, %v; want %+v", tl.Path(), got, err, tl)
		}
	}
}

func TestParsePathRejects(t *testing.T) {
	for _, path := range []string{
		// SPECS §9 H.
		"tile/0/x001/x234/067.p/",
		"tile/0/x001/x234",
		"tile/0/x001",
		"tile/64/000",
		"tile/-1/000",
		// Leading zeroes in L and W.
		"tile/00/000",
		"tile/01/000",
		"tile/0/000.p/01",
		"tile/0/000.p/001",
		"tile/entries/000.p/05",
		// W outside 1..255: a full tile has no .p/ suffix.
		"tile/0/000.p/256",
		"tile/0/000.p/0",
		"tile/entries/000.p/256",
		"tile/entries/000.p/0",
		"tile/0/000.p/-1",
		"tile/0/000.p/+5",
		"tile/0/000.p/ 5",
		"tile/0/000.p/5.p/5",
		"tile/0/000.p/5/",
		// Leading zero groups: the canonical paths are 005 and x001/000.
		"tile/0/x000/005",
		"tile/0/x000/x001/000",
		"tile/0/x000/x000/000",
		// Groups that are not three digits, or x in the wrong place.
		"tile/0/5",
		"tile/0/05",
		"tile/0/0005",
		"tile/0/x1/000",
		"tile/0/x0001/000",
		"tile/0/001/000",
		"tile/0/x001/x000",
		"tile/0/x001/00a",
		"tile/0/+01",
		"tile/0/-01",
		"tile/0/X001/000",
		"tile/0/x001//000",
		"tile/0/x001/000/",
		// More than 64 bits, or more than 7 groups.
		"tile/0/x018/x446/x744/x073/x709/x551/616",
		"tile/0/x999/x999/x999/x999/x999/x999/999",
		"tile/0/x001/x000/x000/x000/x000/x000/x000/000",
		// Not a tile path at all.
		"",
		"tile/",
		"tile/0",
		"tile/0/",
		"tile//000",
		"tiles/0/000",
		"/tile/0/000",
		"tile/data/000",
		"tile/entries",
		"tile/entries/",
		"tile/0/entries/000",
		"tile/8/0/000",
		"checkpoint",
		"tile/1e1/000",
		"tile/0x1/000",
		"tile/ 0/000",
		"tile/0/000 ",
	} {
		tl, err := tiles.ParsePath(path)
		if err == nil {
			t.Errorf("ParsePath(%q) = %+v, want an error", path, tl)
			continue
		}
		if !errors.Is(err, tiles.ErrBadPath) {
			t.Errorf("ParsePath(%q) error %v does not wrap ErrBadPath", path, err)
		}
	}
}

// TestTileGeometry checks PartialWidth, TileFor, EdgeTiles and BundleCount
// against SPECS §4 for the sizes around the tile boundaries.
func TestTileGeometry(t *testing.T) {
	type lw struct {
		level uint8
		index uint64
		width uint16
	}
	for _, tc := range []struct {
		size    uint64
		widths  [4]uint16 // PartialWidth at levels 0..3
		full    [4]uint64 // number of full tiles at levels 0..3
		edge    []lw
		bundles uint64
	}{
		{size: 0, edge: nil, bundles: 0},
		{size: 1, widths: [4]uint16{1}, edge: []lw{{0, 0, 1}}, bundles: 1},
		{size: 255, widths: [4]uint16{255}, edge: []lw{{0, 0, 255}}, bundles: 1},
		// s=256: one full L0 tile + L1 000.p/1.
		{size: 256, widths: [4]uint16{0, 1}, full: [4]uint64{1}, edge: []lw{{1, 0, 1}}, bundles: 1},
		{size: 257, widths: [4]uint16{1, 1}, full: [4]uint64{1}, edge: []lw{{0, 1, 1}, {1, 0, 1}}, bundles: 2},
		{size: 65536, widths: [4]uint16{0, 0, 1}, full: [4]uint64{256, 1}, edge: []lw{{2, 0, 1}}, bundles: 256},
		// s=70000: L0 = 273 full + .p/112; L1 = 1 full + .p/17; L2 = .p/1.
		{size: 70000, widths: [4]uint16{112, 17, 1}, full: [4]uint64{273, 1}, edge: []lw{{0, 273, 112}, {1, 1, 17}, {2, 0, 1}}, bundles: 274},
	} {
		for l := range uint8(4) {
			if got := tiles.PartialWidth(l, tc.size); got != tc.widths[l] {
				t.Errorf("PartialWidth(%d, %d) = %d, want %d", l, tc.size, got, tc.widths[l])
			}
			// The full tiles, then the partial one if any, then nothing.
			for i := range tc.full[l] {
				if tl, ok := tiles.TileFor(l, i, tc.size); !ok || tl != (tiles.Tile{Level: l, Index: i, Width: 256}) {
					t.Errorf("TileFor(%d, %d, %d) = %+v, %v; want a full tile", l, i, tc.size, tl, ok)
				}
			}
			next := tc.full[l]
			if w := tc.widths[l]; w > 0 {
				if tl, ok := tiles.TileFor(l, next, tc.size); !ok || tl != (tiles.Tile{Level: l, Index: next, Width: w}) {
					t.Errorf("TileFor(%d, %d, %d) = %+v, %v; want width %d", l, next, tc.size, tl, ok, w)
				}
				next++
			}
			if tl, ok := tiles.TileFor(l, next, tc.size); ok {
				t.Errorf("TileFor(%d, %d, %d) = %+v, want none", l, next, tc.size, tl)
			}
		}
		var edge []lw
		for _, tl := range tiles.EdgeTiles(tc.size) {
			if tl.Entries || tl.Full() {
				t.Errorf("EdgeTiles(%d) has %+v", tc.size, tl)
			}
			edge = append(edge, lw{tl.Level, tl.Index, tl.Width})
		}
		if !reflect.DeepEqual(edge, tc.edge) {
			t.Errorf("EdgeTiles(%d) = %v, want %v", tc.size, edge, tc.edge)
		}
		if got := tiles.BundleCount(tc.size); got != tc.bundles {
			t.Errorf("BundleCount(%d) = %d, want %d", tc.size, got, tc.bundles)
		}
	}
}

func TestTileForExtremes(t *testing.T) {
	const max = math.MaxUint64
	for _, tc := range []struct {
		level uint8
		index uint64
		size  uint64
		width uint16 // 0: no such tile
	}{
		{7, 0, 1 << 56, 1},
		{7, 0, max, 255},
		{6, 255, max, 255},
		{6, 254, max, 256},
		{8, 0, max, 0},
		{63, 0, max, 0},
		{0, max / 256, max, 255},
		{0, max/256 - 1, max, 256},
		{0, max/256 + 1, max, 0},
	} {
		tl, ok := tiles.TileFor(tc.level, tc.index, tc.size)
		want := tiles.Tile{Level: tc.level, Index: tc.index, Width: tc.width}
		if ok != (tc.width > 0) || (ok && tl != want) {
			t.Errorf("TileFor(%d, %d, %d) = %+v, %v; want width %d", tc.level, tc.index, tc.size, tl, ok, tc.width)
		}
	}
	if got := tiles.PartialWidth(8, max); got != 0 {
		t.Errorf("PartialWidth(8, max) = %d, want 0", got)
	}
	if got := tiles.PartialWidth(63, max); got != 0 {
		t.Errorf("PartialWidth(63, max) = %d, want 0", got)
	}
	for _, tc := range []struct{ size, want uint64 }{
		{max, 1 << 56},
		{max - 254, 1 << 56},
		{max - 255, 1<<56 - 1},
		{max - 256, 1<<56 - 1},
		{1<<64 - 512, 1<<56 - 2},
	} {
		if got := tiles.BundleCount(tc.size); got != tc.want {
			t.Errorf("BundleCount(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
	if got, want := len(tiles.EdgeTiles(max)), 8; got != want {
		t.Errorf("EdgeTiles(max) has %d tiles, want %d", got, want)
	}
}

// TestEdgeTilesSum checks that the partial widths are the base-256 digits of
// the size, and that each edge tile follows the full tiles of its level.
func TestEdgeTilesSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []uint64{0, 1, 255, 256, 257, 65535, 65536, 65537, 70000, 1<<24 - 1, 1 << 24, math.MaxUint64}
	for range 500 {
		sizes = append(sizes, rng.Uint64()>>rng.UintN(64))
	}
	for _, size := range sizes {
		var sum, scale uint64 = 0, 1
		for l := range uint8(8) {
			sum += uint64(tiles.PartialWidth(l, size)) * scale
			scale <<= 8
		}
		if sum != size {
			t.Errorf("size %d: partial widths add up to %d", size, sum)
		}
		for _, tl := range tiles.EdgeTiles(size) {
			want, ok := tiles.TileFor(tl.Level, tl.Index, size)
			if !ok || want != tl {
				t.Errorf("size %d: edge tile %+v is not TileFor's %+v", size, tl, want)
			}
			if tl.Index != (size>>(8*uint(tl.Level)))/256 {
				t.Errorf("size %d: edge tile %+v has the wrong index", size, tl)
			}
		}
	}
}

func TestBundleFor(t *testing.T) {
	for _, tc := range []struct {
		index, size uint64
		path        string // "" for none
	}{
		// The bundle of entries at a bundle index for a log size, as in
		// tessera EntriesPathForLogIndex(seq, logSize) with seq the
		// bundle index times 256.
		{1, 257, "tile/entries/001.p/1"},
		{0, 255, "tile/entries/000.p/255"},
		{123456789, 123456790 * 256, "tile/entries/x123/x456/789"},
		{0, 256, "tile/entries/000"},
		{1, 256, ""},
		{0, 0, ""},
		{0, 1, "tile/entries/000.p/1"},
		{273, 70000, "tile/entries/273.p/112"},
		{272, 70000, "tile/entries/272"},
		{274, 70000, ""},
	} {
		tl, ok := tiles.BundleFor(tc.index, tc.size)
		if ok != (tc.path != "") {
			t.Errorf("BundleFor(%d, %d) ok = %v, want %v", tc.index, tc.size, ok, tc.path != "")
			continue
		}
		if ok && (tl.Path() != tc.path || !tl.Entries || tl.Level != 0) {
			t.Errorf("BundleFor(%d, %d) = %+v (%s), want %s", tc.index, tc.size, tl, tl.Path(), tc.path)
		}
	}
}
