package tiles_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
)

func TestParseAddCheckpointRequest(t *testing.T) {
	cp := "example.com/log\n64\n" + tiles.EmptyRoot.String() + "\n\n— example.com/log AAAA\n"
	proof := func(n int) string { return strings.Repeat(tiles.EmptyRoot.String()+"\n", n) }
	for _, tc := range []struct {
		body string
		want tiles.AddCheckpointRequest
	}{
		{"old 0\n\n" + cp, tiles.AddCheckpointRequest{Checkpoint: []byte(cp)}},
		{"old 5\n" + proof(2) + "\n" + cp, tiles.AddCheckpointRequest{OldSize: 5,
			Proof: []tiles.Hash{tiles.EmptyRoot, tiles.EmptyRoot}, Checkpoint: []byte(cp)}},
		{"old 5\n" + proof(63) + "\n" + cp, tiles.AddCheckpointRequest{OldSize: 5,
			Proof: mustParseHashes(t, strings.Fields(proof(63))), Checkpoint: []byte(cp)}},
	} {
		r, err := tiles.ParseAddCheckpointRequest([]byte(tc.body))
		if err != nil {
			t.Fatalf("ParseAddCheckpointRequest(%.30q): %v", tc.body, err)
		}
		if !reflect.DeepEqual(*r, tc.want) {
			t.Errorf("ParseAddCheckpointRequest(%.30q) = %+v, want %+v", tc.body, *r, tc.want)
		}
		if string(r.Marshal()) != tc.body {
			t.Errorf("Marshal does not give back %.30q", tc.body)
		}
	}
	for _, body := range []string{"", "old 1\n", "old 01\n\ncp\n", "old -1\n\ncp\n", "new 1\n\ncp\n",
		"old 1\nnot-a-hash\n\ncp\n", "old 0\n\n", "old 5\n" + proof(64) + "\n" + cp,
		"old 0\n\n" + strings.Repeat("x", tiles.MaxAddCheckpointSize)} {
		if _, err := tiles.ParseAddCheckpointRequest([]byte(body)); !errors.Is(err, tiles.ErrMalformedAddCheckpoint) {
			t.Errorf("ParseAddCheckpointRequest(%.30q) = %v, want ErrMalformedAddCheckpoint", body, err)
		}
	}
}

// FuzzParseAddCheckpointRequest checks that the add-checkpoint parser never
// panics, that every error wraps ErrMalformedAddCheckpoint (a witness's 400),
// and that what it accepts is within the limits and is exactly what Marshal
// writes back: the request has one encoding, so nothing in a body goes
// unparsed.
func FuzzParseAddCheckpointRequest(f *testing.F) {
	// The seed corpus is in testdata/fuzz/FuzzParseAddCheckpointRequest.
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := tiles.ParseAddCheckpointRequest(body)
		if err != nil {
			if !errors.Is(err, tiles.ErrMalformedAddCheckpoint) {
				t.Fatalf("error %v does not wrap ErrMalformedAddCheckpoint", err)
			}
			return
		}
		if len(body) > tiles.MaxAddCheckpointSize || len(r.Proof) > 63 || len(r.Checkpoint) == 0 {
			t.Fatalf("accepted a request over the limits: %d bytes, %d proof lines, %d-byte checkpoint",
				len(body), len(r.Proof), len(r.Checkpoint))
		}
		if m := r.Marshal(); !bytes.Equal(m, body) {
			t.Fatalf("Marshal(ParseAddCheckpointRequest(%q)) = %q", body, m)
		}
	})
}
