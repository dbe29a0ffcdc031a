package tiles_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
)

// katRoot15 is the root of the Tessera test log at size 15 (SPECS §9 C).
const katRoot15 = "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs="

// emptyRootB64 is the root hash of the empty tree.
const emptyRootB64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

func mustParseHash(t testing.TB, s string) tiles.Hash {
	t.Helper()
	h, err := tiles.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCheckpointRoundTrip(t *testing.T) {
	root := mustParseHash(t, katRoot15)
	for _, tc := range []struct {
		cp   tiles.Checkpoint
		text string
	}{
		{
			tiles.Checkpoint{Origin: "example.com/log/testdata", Size: 15, Hash: root},
			"example.com/log/testdata\n15\n" + katRoot15 + "\n",
		},
		{
			tiles.Checkpoint{Origin: "example.com/log/testdata", Size: 15, Hash: root, Extensions: []string{"ext one", "— 2 ✓"}},
			"example.com/log/testdata\n15\n" + katRoot15 + "\next one\n— 2 ✓\n",
		},
		{
			tiles.Checkpoint{Origin: "o", Size: 0, Hash: tiles.EmptyRoot},
			"o\n0\n" + emptyRootB64 + "\n",
		},
		{
			tiles.Checkpoint{Origin: "example.com/behind-the-sofa", Size: math.MaxUint64, Hash: root},
			"example.com/behind-the-sofa\n18446744073709551615\n" + katRoot15 + "\n",
		},
	} {
		if got := string(tc.cp.Marshal()); got != tc.text {
			t.Errorf("Marshal() = %q, want %q", got, tc.text)
		}
		got, err := tiles.ParseCheckpoint([]byte(tc.text))
		if err != nil {
			t.Errorf("ParseCheckpoint(%q): %v", tc.text, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.cp) {
			t.Errorf("ParseCheckpoint(%q) = %+v, want %+v", tc.text, got, tc.cp)
		}
	}
}

func TestParseCheckpointRejects(t *testing.T) {
	const origin = "example.com/log/testdata\n"
	for _, tc := range []struct{ name, text string }{
		{"empty", ""},
		{"one line", origin},
		{"two lines", origin + "15\n"},
		{"no trailing newline", origin + "15\n" + katRoot15},
		{"empty origin", "\n15\n" + katRoot15 + "\n"},
		{"size with a leading zero", origin + "015\n" + katRoot15 + "\n"},
		{"size 01", origin + "01\n" + katRoot15 + "\n"},
		{"size 00", origin + "00\n" + emptyRootB64 + "\n"},
		{"size +1", origin + "+1\n" + katRoot15 + "\n"},
		{"size -1", origin + "-1\n" + katRoot15 + "\n"},
		{"size with a space", origin + " 15\n" + katRoot15 + "\n"},
		{"size in hex", origin + "0xf\n" + katRoot15 + "\n"},
		{"size 1_5", origin + "1_5\n" + katRoot15 + "\n"},
		{"size 2^64", origin + "18446744073709551616\n" + katRoot15 + "\n"},
		{"empty size", origin + "\n" + katRoot15 + "\n"},
		{"hash of 31 bytes", origin + "15\n" + "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383Q==\n"},
		{"hash of 33 bytes", origin + "15\n" + "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383csA\n"},
		{"hash without padding", origin + "15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs\n"},
		{"hash with padding bits set", origin + "15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383ct=\n"},
		{"hash in URL base64", origin + "15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja_1nk427v383cs=\n"},
		{"hash in hex", origin + "15\naca6c38a90af86e5f5199ee0e4105ef2c03a05b27b8daff59e4e36eefdfcddcb\n"},
		{"empty extension line", origin + "15\n" + katRoot15 + "\n\n"},
		{"empty extension line in the middle", origin + "15\n" + katRoot15 + "\na\n\nb\n"},
		{"size 0 with a non-empty root", origin + "0\n" + katRoot15 + "\n"},
		{"tab in origin", "example.com/log\ttestdata\n15\n" + katRoot15 + "\n"},
		{"CR at end of origin", "example.com/log/testdata\r\n15\n" + katRoot15 + "\n"},
		{"NUL in extension", origin + "15\n" + katRoot15 + "\next\x00\n"},
		{"DEL in origin", "example.com/log\x7f\n15\n" + katRoot15 + "\n"},
		{"escape in extension", origin + "15\n" + katRoot15 + "\n\x1b[31m\n"},
		{"invalid UTF-8", "example.com/\xff\n15\n" + katRoot15 + "\n"},
		{"too long", origin + "15\n" + katRoot15 + "\n" + strings.Repeat("x", 1<<16) + "\n"},
	} {
		cp, err := tiles.ParseCheckpoint([]byte(tc.text))
		if err == nil {
			t.Errorf("%s: ParseCheckpoint(%q) = %+v, want an error", tc.name, tc.text, cp)
			continue
		}
		if !errors.Is(err, tiles.ErrMalformedCheckpoint) {
			t.Errorf("%s: error %v does not wrap ErrMalformedCheckpoint", tc.name, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"15", 15, true},
		{"20852163", 20852163, true},
		{"18446744073709551615", math.MaxUint64, true},
		{"18446744073709551616", 0, false},
		{"", 0, false},
		{"01", 0, false},
		{"00", 0, false},
		{"+1", 0, false},
		{"-0", 0, false},
		{"1 ", 0, false},
		{"1e3", 0, false},
		{"٣", 0, false}, // an Arabic-Indic digit
	} {
		got, err := tiles.ParseSize(tc.s)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tc.s, got, err, tc.want, tc.ok)
		}
	}
}
