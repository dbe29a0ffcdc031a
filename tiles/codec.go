package tiles

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxEntrySize is the largest entry an entry bundle can hold: its length is
// written as a big-endian uint16.
const MaxEntrySize = 1<<16 - 1

// ErrEntryTooLarge is returned for an entry over MaxEntrySize bytes.
var ErrEntryTooLarge = errors.New("entry exceeds 65535 bytes")

// ParseHashTile decodes a hash tile that must hold exactly width hashes.
func ParseHashTile(data []byte, width uint16) ([]Hash, error) {
	if width == 0 || width > TileWidth {
		return nil, fmt.Errorf("bad tile width %d", width)
	}
	if len(data) != int(width)*HashSize {
		return nil, fmt.Errorf("hash tile has %d bytes, want %d (%d hashes)", len(data), int(width)*HashSize, width)
	}
	hs := make([]Hash, width)
	for i := range hs {
		copy(hs[i][:], data[i*HashSize:])
	}
	return hs, nil
}

// MarshalHashTile encodes hashes as a hash tile: the hashes concatenated.
func MarshalHashTile(hashes []Hash) []byte {
	out := make([]byte, 0, len(hashes)*HashSize)
	for _, h := range hashes {
		out = append(out, h[:]...)
	}
	return out
}

// AppendEntry appends entry to an entry bundle: a big-endian uint16 length
// followed by the entry bytes. An entry over MaxEntrySize is refused, never
// truncated.
func AppendEntry(bundle, entry []byte) ([]byte, error) {
	if len(entry) > MaxEntrySize {
		return bundle, fmt.Errorf("%w: %d bytes", ErrEntryTooLarge, len(entry))
	}
	bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(entry)))
	return append(bundle, entry...), nil
}

// ParseEntryBundle decodes an entry bundle that must hold exactly width
// entries and nothing after them. The returned entries alias data.
func ParseEntryBundle(data []byte, width uint16) ([][]byte, error) {
	if width == 0 || width > TileWidth {
		return nil, fmt.Errorf("bad bundle width %d", width)
	}
	entries := make([][]byte, 0, width)
	for len(data) > 0 {
		if len(entries) == int(width) {
			return nil, fmt.Errorf("entry bundle has %d bytes after its %d entries", len(data), width)
		}
		if len(data) < 2 {
			return nil, fmt.Errorf("entry bundle ends inside the length of entry %d", len(entries))
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data)-2 < n {
			return nil, fmt.Errorf("entry %d overruns the bundle: length %d, %d bytes left", len(entries), n, len(data)-2)
		}
		entries = append(entries, data[2:2+n:2+n])
		data = data[2+n:]
	}
	if len(entries) != int(width) {
		return nil, fmt.Errorf("entry bundle has %d entries, want %d", len(entries), width)
	}
	return entries, nil
}
