package tiles_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
)

// katEntries are the entries 0..14 of the Tessera test log (SPECS §9 C).
var katEntries = []string{"one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven", "twelf", "threeten", "fourten", "fivten"}

// mustHex decodes hex, ignoring spaces.
func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// distinctHashes returns n different hashes.
func distinctHashes(n int) []tiles.Hash {
	hs := make([]tiles.Hash, n)
	for i := range hs {
		hs[i] = sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	}
	return hs
}

func TestParseHashTile(t *testing.T) {
	for _, width := range []uint16{1, 2, 15, 255, 256} {
		want := distinctHashes(int(width))
		data := tiles.MarshalHashTile(want)
		if len(data) != int(width)*32 {
			t.Fatalf("MarshalHashTile(%d hashes) has %d bytes", width, len(data))
		}
		for i, h := range want {
			if !bytes.Equal(data[i*32:(i+1)*32], h[:]) {
				t.Fatalf("MarshalHashTile: hash %d is not at offset %d", i, i*32)
			}
		}
		got, err := tiles.ParseHashTile(data, width)
		if err != nil {
			t.Fatalf("ParseHashTile(%d bytes, %d): %v", len(data), width, err)
		}
		if len(got) != len(want) {
			t.Fatalf("ParseHashTile returned %d hashes, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("ParseHashTile width %d: hash %d differs", width, i)
			}
		}
		for _, n := range []int{0, len(data) - 1, len(data) + 1, len(data) - 32, len(data) + 32, 8192 + 32} {
			if n < 0 || n == len(data) {
				continue
			}
			if _, err := tiles.ParseHashTile(make([]byte, n), width); err == nil {
				t.Errorf("ParseHashTile(%d bytes, width %d) succeeded", n, width)
			}
		}
	}
	// The widths a tile cannot have, even with a matching length.
	for _, width := range []uint16{0, 257, 512} {
		if _, err := tiles.ParseHashTile(make([]byte, int(width)*32), width); err == nil {
			t.Errorf("ParseHashTile(width %d) succeeded", width)
		}
	}
	// The 15 leaf hashes of the Tessera test log are tile/0/000.p/15: 480 bytes.
	var leaves []tiles.Hash
	for _, e := range katEntries {
		leaves = append(leaves, tiles.LeafHash([]byte(e)))
	}
	if got := len(tiles.MarshalHashTile(leaves)); got != 480 {
		t.Errorf("tile/0/000.p/15 has %d bytes, want 480", got)
	}
}

func TestParseEntryBundle(t *testing.T) {
	// tile/entries/000.p/3 of the Tessera test log (SPECS §9 C).
	tessera := mustHex(t, "00036f6e65 000374776f 00057468726565")
	for _, tc := range []struct {
		name  string
		data  []byte
		width uint16
		want  []string // nil: an error
	}{
		{"tessera 000.p/3", tessera, 3, []string{"one", "two", "three"}},
		{"empty entries", mustHex(t, "0000 0000"), 2, []string{"", ""}},
		{"one empty entry", mustHex(t, "0000"), 1, []string{""}},
		{"empty between", mustHex(t, "000161 0000 000162"), 3, []string{"a", "", "b"}},
		{"too few entries", tessera, 4, nil},
		{"dangling entry", tessera, 2, nil},
		{"dangling byte", append(bytes.Clone(tessera), 0), 3, nil},
		{"dangling zero length", append(bytes.Clone(tessera), 0, 0), 3, nil},
		{"overrun", mustHex(t, "0005 6f6e65"), 1, nil},
		{"overrun by one", mustHex(t, "00036f6e65 0004 74776f"), 2, nil},
		{"length cut", mustHex(t, "00036f6e65 00"), 2, nil},
		{"no data", nil, 1, nil},
		{"width 0", nil, 0, nil},
		{"width 0 with data", mustHex(t, "0000"), 0, nil},
		{"width 257", bytes.Repeat([]byte{0, 0}, 257), 257, nil},
	} {
		got, err := tiles.ParseEntryBundle(tc.data, tc.width)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: ParseEntryBundle = %q, want an error", tc.name, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: ParseEntryBundle: %v", tc.name, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: ParseEntryBundle = %q, want %q", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Errorf("%s: entry %d = %q, want %q", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

// TestParseEntryBundleAliasing checks that appending to one returned entry
// cannot overwrite the next one, which shares the bundle's memory.
func TestParseEntryBundleAliasing(t *testing.T) {
	data := mustHex(t, "00036f6e65 000374776f")
	got, err := tiles.ParseEntryBundle(data, 2)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(got[0], "XXXXX"...) // fits in the capacity of data[2:5] without a 3-index slice
	if string(got[1]) != "two" {
		t.Errorf("appending to entry 0 changed entry 1 to %q", got[1])
	}
}

func TestAppendEntry(t *testing.T) {
	// one, two, three encode to the Tessera bundle.
	var b []byte
	for _, e := range []string{"one", "two", "three"} {
		var err error
		if b, err = tiles.AppendEntry(b, []byte(e)); err != nil {
			t.Fatal(err)
		}
	}
	if want := mustHex(t, "00036f6e65 000374776f 00057468726565"); !bytes.Equal(b, want) {
		t.Errorf("bundle = %x, want %x", b, want)
	}

	// The 15 entries are tile/entries/000.p/15: 99 bytes.
	var all []byte
	for _, e := range katEntries {
		all, _ = tiles.AppendEntry(all, []byte(e))
	}
	if len(all) != 99 {
		t.Errorf("tile/entries/000.p/15 has %d bytes, want 99", len(all))
	}
	if got, err := tiles.ParseEntryBundle(all, 15); err != nil || string(got[14]) != "fivten" {
		t.Errorf("ParseEntryBundle(000.p/15) = %q, %v", got, err)
	}

	// 65535 bytes is the largest entry; 65536 is refused, not truncated.
	max := bytes.Repeat([]byte{0xab}, 65535)
	b, err := tiles.AppendEntry([]byte{7}, max)
	if err != nil {
		t.Fatalf("AppendEntry(65535 bytes): %v", err)
	}
	if len(b) != 1+2+65535 || b[1] != 0xff || b[2] != 0xff || !bytes.Equal(b[3:], max) {
		t.Errorf("AppendEntry(65535 bytes) = %d bytes starting %x", len(b), b[:3])
	}
	if got, err := tiles.ParseEntryBundle(b[1:], 1); err != nil || !bytes.Equal(got[0], max) {
		t.Errorf("ParseEntryBundle of a 65535-byte entry: %v", err)
	}
	prefix := []byte{7}
	b, err = tiles.AppendEntry(prefix, make([]byte, 65536))
	if !errors.Is(err, tiles.ErrEntryTooLarge) {
		t.Errorf("AppendEntry(65536 bytes) error = %v, want ErrEntryTooLarge", err)
	}
	if !bytes.Equal(b, prefix) {
		t.Errorf("AppendEntry(65536 bytes) changed the bundle to %d bytes", len(b))
	}
	if _, err := tiles.AppendEntry(nil, make([]byte, 1<<17)); !errors.Is(err, tiles.ErrEntryTooLarge) {
		t.Errorf("AppendEntry(128 KiB) error = %v, want ErrEntryTooLarge", err)
	}
	if tiles.MaxEntrySize != 65535 {
		t.Errorf("MaxEntrySize = %d", tiles.MaxEntrySize)
	}

	// A full bundle of entries of every length class round-trips.
	var full []byte
	var want [][]byte
	for i := range 256 {
		e := bytes.Repeat([]byte{byte(i)}, (i*i*7)%3000)
		want = append(want, e)
		if full, err = tiles.AppendEntry(full, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := tiles.ParseEntryBundle(full, 256)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("entry %d does not round-trip", i)
		}
	}
}

// TestHashKnownAnswers checks the RFC 6962 hashes against SPECS §9 G and
// SHA-256 computed here.
func TestHashKnownAnswers(t *testing.T) {
	hexOf := func(h tiles.Hash) string { return hex.EncodeToString(h[:]) }
	if got, want := hexOf(tiles.EmptyRoot), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("EmptyRoot = %s, want %s", got, want)
	}
	if got, want := tiles.EmptyRoot.String(), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; got != want {
		t.Errorf("EmptyRoot.String() = %s, want %s", got, want)
	}
	for _, tc := range []struct{ entry, want string }{
		{"", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
		{"L123456", "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"},
		{"one", "d0d7360ab79f58ab1e1e3fe64ad77e2ea0bc07e36b5f46ed2223edd9298df9e9"},
	} {
		if got := hexOf(tiles.LeafHash([]byte(tc.entry))); got != tc.want {
			t.Errorf("LeafHash(%q) = %s, want %s", tc.entry, got, tc.want)
		}
	}
	// Entries on both sides of any internal buffer size.
	for _, n := range []int{1, 31, 32, 63, 64, 1000, 1022, 1023, 1024, 1025, 4096, 65535} {
		e := bytes.Repeat([]byte{byte(n)}, n)
		if got, want := tiles.LeafHash(e), tiles.Hash(sha256.Sum256(append([]byte{0}, e...))); got != want {
			t.Errorf("LeafHash(%d bytes) = %x, want %x", n, got, want)
		}
	}
	hs := distinctHashes(2)
	want := sha256.Sum256(append(append([]byte{1}, hs[0][:]...), hs[1][:]...))
	if got := tiles.NodeHash(hs[0], hs[1]); got != want {
		t.Errorf("NodeHash = %x, want %x", got, want)
	}
	if tiles.NodeHash(hs[1], hs[0]) == tiles.Hash(want) {
		t.Error("NodeHash is symmetric")
	}
}

func TestParseHash(t *testing.T) {
	const good = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	h, err := tiles.ParseHash(good)
	if err != nil || h != tiles.EmptyRoot {
		t.Fatalf("ParseHash(%q) = %x, %v", good, h, err)
	}
	for _, s := range []string{
		"",
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=", // only padding bits differ
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",  // no padding
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU==",
		"47DEQpj8HBSa+/TImW+5JCeu\nQeRkm5NMpJWZG3hSuFU=",
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\r",
		"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=", // URL alphabet
		"AAAA",
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA", // 33 bytes
		" 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
	} {
		if h, err := tiles.ParseHash(s); err == nil {
			t.Errorf("ParseHash(%q) = %x, want an error", s, h)
		}
	}
}
