package posix

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ledger-dev/ledger/tiles"
)

// removeLeftovers deletes the tiles and bundles beyond the committed size
// that a flush which died before its commit point left: at each level, the
// widths of the right-edge tile past the committed one, and every tile
// after it. Such files hold entries nobody was told about, and a static web
// server serving the directory would hand them out; the next flush would
// overwrite only the widths it reaches. Every flush writes beyond the right
// edge only, so this looks at the right edge of each level and the tiles
// after it, never at the rest of the log. Tiles before it are untouched:
// a committed tile is never removed.
func (s *Storage) removeLeftovers(size uint64) error {
	for level := uint8(0); uint(level)*tiles.TileHeight < 64; level++ {
		n := size >> (uint(level) * tiles.TileHeight)
		for _, entries := range []bool{false, true} {
			if entries && level > 0 {
				continue
			}
			edge, width := n/tiles.TileWidth, uint16(n%tiles.TileWidth)
			for i := edge; ; i++ {
				t := tiles.Tile{Level: level, Index: i, Width: tiles.TileWidth, Entries: entries}
				keep := uint16(0) // widths up to keep are committed
				if i == edge {
					keep = width
				}
				found, err := s.removeBeyond(t, keep)
				if err != nil {
					return err
				}
				if !found && i > edge {
					break
				}
			}
		}
	}
	return nil
}

// removeBeyond removes full tile t and its partial widths above keep, and
// reports whether any file of t existed.
func (s *Storage) removeBeyond(t tiles.Tile, keep uint16) (found bool, err error) {
	full := filepath.Join(s.dir, filepath.FromSlash(t.Path()))
	switch err := os.Remove(full); {
	case err == nil:
		found = true
	case !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	partials := full + ".p"
	names, err := os.ReadDir(partials)
	if errors.Is(err, fs.ErrNotExist) {
		return found, nil
	}
	if err != nil {
		return false, err
	}
	found = true
	for _, e := range names {
		w, err := strconv.Atoi(e.Name())
		if err != nil || w <= int(keep) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := os.Remove(filepath.Join(partials, e.Name())); err != nil {
			return false, err
		}
	}
	return found, nil
}
