package storagetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// testCheckpointHistory checks ledger.CheckpointHistory: every published
// checkpoint is kept, across a restart; an entry is answered with the first
// checkpoint whose size covers it, as last published at that size (a
// republish with one more signature, as a cosignature would add, wins),
// and an entry no checkpoint covers yet is tiles.ErrNotFound.
func testCheckpointHistory(t *testing.T, open Opener) {
	ctx := t.Context()
	logSigner, _ := NewSigner(t, "example.com/history")
	witness, _ := NewSigner(t, "witness.example.com")
	sign := func(size uint64, signers ...note.Signer) []byte {
		text := tiles.Checkpoint{Origin: "example.com/history", Size: size, Hash: sha256.Sum256([]byte{byte(size)})}.Marshal()
		n, err := note.Sign(&note.Note{Text: string(text)}, signers...)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	s := open(t)
	h, ok := s.(ledger.CheckpointHistory)
	if !ok {
		t.Fatalf("%T does not keep the checkpoints it published (ledger.CheckpointHistory)", s)
	}
	if _, err := h.FirstCovering(ctx, 0); !errors.Is(err, tiles.ErrNotFound) {
		t.Fatalf("FirstCovering(0) of a new store: %v, want tiles.ErrNotFound", err)
	}
	one, oneCosigned, three, seven := sign(1, logSigner), sign(1, logSigner, witness), sign(3, logSigner), sign(7, logSigner, witness)
	for _, cp := range [][]byte{one, one, oneCosigned, three, three, seven} {
		if err := s.Publish(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	check := func(h ledger.CheckpointHistory) {
		t.Helper()
		for index, want := range map[uint64][]byte{0: oneCosigned, 1: three, 2: three, 3: seven, 6: seven} {
			got, err := h.FirstCovering(ctx, index)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("FirstCovering(%d) = %q, %v; want %q", index, got, err, want)
			}
		}
		if got, err := h.FirstCovering(ctx, 7); !errors.Is(err, tiles.ErrNotFound) {
			t.Errorf("FirstCovering(7) = %q, %v; want tiles.ErrNotFound", got, err)
		}
	}
	check(h)
	closeStore(t, s)
	s = open(t)
	defer closeStore(t, s)
	check(s.(ledger.CheckpointHistory))
}
