package tiles

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const (
	// TileHeight is the number of tree levels a hash tile spans.
	TileHeight = 8
	// TileWidth is the number of hashes in a full tile and entries in a full bundle.
	TileWidth = 1 << TileHeight
	// MaxLevel is the highest tile level a path may name.
	MaxLevel = 63
	// CheckpointPath is the path of the latest checkpoint below the log prefix.
	CheckpointPath = "checkpoint"
)

// Tile names one hash tile or entry bundle.
//
// Hash tile (L, N) holds the tree nodes at level 8·L with indexes
// [N·256, N·256+W); the entry bundle N holds the entries whose leaf hashes are
// in hash tile (0, N). Width is 1..256; 256 is a full tile, anything smaller a
// partial tile at the right edge of the tree.
//
// For example Tile{Level: 0, Index: 1234067, Width: 8} has the path
// tile/0/x001/x234/067.p/8, and the full entry bundle 5 has the path
// tile/entries/005.
type Tile struct {
	Level   uint8  // 0..63; always 0 for an entry bundle
	Index   uint64 // N
	Width   uint16 // 1..256
	Entries bool   // an entry bundle rather than a hash tile
}

// Full reports whether t holds TileWidth hashes or entries.
func (t Tile) Full() bool { return t.Width == TileWidth }

// Path returns the tlog-tiles path of t, relative to the log prefix.
func (t Tile) Path() string {
	var b strings.Builder
	b.WriteString("tile/")
	if t.Entries {
		b.WriteString("entries/")
	} else {
		b.WriteString(strconv.Itoa(int(t.Level)))
		b.WriteByte('/')
	}
	writeIndex(&b, t.Index)
	if t.Width < TileWidth {
		b.WriteString(".p/")
		b.WriteString(strconv.Itoa(int(t.Width)))
	}
	return b.String()
}

func (t Tile) String() string { return t.Path() }

// writeIndex writes n in groups of three decimal digits, each group but the
// last prefixed with "x": 1234067 is x001/x234/067.
func writeIndex(b *strings.Builder, n uint64) {
	var groups [7]uint64 // 2^64 has 20 digits: at most 7 groups
	k := 0
	for {
		groups[k] = n % 1000
		k++
		n /= 1000
		if n == 0 {
			break
		}
	}
	for i := k - 1; i >= 0; i-- {
		if i > 0 {
			b.WriteByte('x')
		}
		fmt.Fprintf(b, "%03d", groups[i])
		if i > 0 {
			b.WriteByte('/')
		}
	}
}

// ErrBadPath is returned (wrapped) for a path that is not a canonical tlog-tiles path.
var ErrBadPath = errors.New("not a tlog-tiles path")

// ParsePath parses a hash tile or entry bundle path relative to the log
// prefix, such as "tile/0/x001/x234/067.p/8" or "tile/entries/000". It accepts
// only the canonical form: no leading zeroes in the level or width, level at
// most 63, width 1..255 after ".p/", three-digit groups.
func ParsePath(path string) (Tile, error) {
	bad := func(why string) (Tile, error) {
		return Tile{}, fmt.Errorf("%w: %q: %s", ErrBadPath, path, why)
	}
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok {
		return bad("missing tile/ prefix")
	}
	var t Tile
	first, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("missing index")
	}
	if first == "entries" {
		t.Entries = true
	} else {
		l, err := parseCanonical(first, MaxLevel)
		if err != nil {
			return bad("level " + err.Error())
		}
		t.Level = uint8(l)
	}
	t.Width = TileWidth
	if idx, w, ok := strings.Cut(rest, ".p/"); ok {
		width, err := parseCanonical(w, TileWidth-1)
		if err != nil || width == 0 {
			return bad("partial width must be 1..255")
		}
		t.Width = uint16(width)
		rest = idx
	}
	n, err := parseIndex(rest)
	if err != nil {
		return bad(err.Error())
	}
	t.Index = n
	return t, nil
}

// parseCanonical parses a decimal number with no sign and no leading zeroes,
// at most max.
func parseCanonical(s string, max uint64) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || len(s) > 20 {
		return 0, errors.New("is not a canonical decimal")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, errors.New("is not a canonical decimal")
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > max {
		return 0, fmt.Errorf("is out of range (max %d)", max)
	}
	return v, nil
}

// parseIndex parses the x001/x234/067 form of a tile index.
func parseIndex(s string) (uint64, error) {
	groups := strings.Split(s, "/")
	if len(groups) > 7 {
		return 0, errors.New("index has too many groups")
	}
	var n uint64
	for i, g := range groups {
		last := i == len(groups)-1
		if !last {
			var ok bool
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return 0, errors.New("index group lacks its x prefix")
			}
		}
		if len(g) != 3 || g[0] < '0' || g[0] > '9' || g[1] < '0' || g[1] > '9' || g[2] < '0' || g[2] > '9' {
			return 0, errors.New("index group is not three digits")
		}
		v := uint64(g[0]-'0')*100 + uint64(g[1]-'0')*10 + uint64(g[2]-'0')
		if i == 0 && !last && v == 0 {
			// "x000/005" would name tile 5, whose canonical path is "005",
			// and "x000/x001/000" tile 1000, whose path is "x001/000".
			return 0, errors.New("index has a leading zero group")
		}
		if n > (1<<64-1-v)/1000 {
			return 0, errors.New("index overflows 64 bits")
		}
		n = n*1000 + v
	}
	return n, nil
}

// PartialWidth returns the width of the partial tile at level for a tree of
// size leaves: floor(size / 256^level) mod 256. Zero means the level has no
// partial tile.
func PartialWidth(level uint8, size uint64) uint16 {
	return uint16(nodesAt(level, size) % TileWidth)
}

// nodesAt returns the number of complete tree nodes at tree level 8·level for
// a tree of size leaves.
func nodesAt(level uint8, size uint64) uint64 {
	shift := uint(level) * TileHeight
	if shift >= 64 {
		return 0
	}
	return size >> shift
}

// TileFor returns the hash tile at level and index as it exists in a tree of
// size leaves: full, or partial with its width. ok is false if the tree has no
// such tile.
func TileFor(level uint8, index, size uint64) (t Tile, ok bool) {
	n := nodesAt(level, size)
	full := n / TileWidth
	switch {
	case index < full:
		return Tile{Level: level, Index: index, Width: TileWidth}, true
	case index == full && n%TileWidth != 0:
		return Tile{Level: level, Index: index, Width: uint16(n % TileWidth)}, true
	}
	return Tile{}, false
}

// BundleFor returns the entry bundle with index as it exists in a tree of size
// leaves. ok is false if the tree has no such bundle.
func BundleFor(index, size uint64) (t Tile, ok bool) {
	t, ok = TileFor(0, index, size)
	t.Entries = true
	return t, ok
}

// BundleCount returns the number of entry bundles (full and partial) in a tree of size leaves.
func BundleCount(size uint64) uint64 {
	// Not (size + TileWidth - 1) / TileWidth, which wraps for sizes near 2^64.
	n := size / TileWidth
	if size%TileWidth != 0 {
		n++
	}
	return n
}

// EdgeTiles returns the partial hash tiles of a tree of size leaves, lowest
// level first. Together they hold every node of the tree's right edge, so the
// root hash is a function of them alone (see RootFromEdge).
func EdgeTiles(size uint64) []Tile {
	var edge []Tile
	for l := uint8(0); l <= MaxLevel && nodesAt(l, size) > 0; l++ {
		if w := PartialWidth(l, size); w > 0 {
			edge = append(edge, Tile{Level: l, Index: nodesAt(l, size) / TileWidth, Width: w})
		}
	}
	return edge
}
