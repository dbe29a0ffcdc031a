package witness_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ledger-dev/ledger/ledger/witness"
)

// FuzzParseRequest checks that the add-checkpoint parser never panics, that
// every error is ErrBadRequest (a 400), and that what it accepts is within
// the limits and is exactly what Marshal writes back: the request has one
// encoding, so nothing in a body goes unparsed.
func FuzzParseRequest(f *testing.F) {
	// The seed corpus is in testdata/fuzz/FuzzParseRequest.
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := witness.ParseRequest(body)
		if err != nil {
			if !errors.Is(err, witness.ErrBadRequest) {
				t.Fatalf("error %v is not ErrBadRequest", err)
			}
			return
		}
		if len(body) > witness.MaxBodySize || len(r.Proof) > 63 || len(r.Checkpoint) == 0 {
			t.Fatalf("accepted a request over the limits: %d bytes, %d proof lines, %d-byte checkpoint",
				len(body), len(r.Proof), len(r.Checkpoint))
		}
		if m := r.Marshal(); !bytes.Equal(m, body) {
			t.Fatalf("Marshal(ParseRequest(%q)) = %q", body, m)
		}
	})
}
