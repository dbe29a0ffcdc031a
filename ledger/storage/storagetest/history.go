package storagetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

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

// WitnessedCheckpoints returns a function that signs the checkpoint of a
// size as a log with the given number of witnesses publishes it: the log's
// signature and a cosignature/v1 line from each witness. For measuring what
// the checkpoint history keeps.
func WitnessedCheckpoints(tb testing.TB, origin string, witnesses int) func(size uint64) []byte {
	tb.Helper()
	signer, _ := NewSigner(tb, origin)
	signers := []note.Signer{signer}
	for i := range witnesses {
		skey, _, err := tiles.GenerateCosignatureKey(rand.Reader, fmt.Sprintf("witness%d.example.org", i))
		if err != nil {
			tb.Fatal(err)
		}
		c, err := tiles.NewCosignatureSigner(skey, time.Now)
		if err != nil {
			tb.Fatal(err)
		}
		signers = append(signers, c)
	}
	return func(size uint64) []byte {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], size)
		text := tiles.Checkpoint{Origin: origin, Size: size, Hash: sha256.Sum256(b[:])}.Marshal()
		cp, err := note.Sign(&note.Note{Text: string(text)}, signers...)
		if err != nil {
			tb.Fatal(err)
		}
		return cp
	}
}

// ReportHistorySize reports bytes, what a checkpoint history of b.N
// checkpoints takes, per checkpoint and per year at one checkpoint a
// second.
func ReportHistorySize(b *testing.B, bytes int64) {
	per := float64(bytes) / float64(b.N)
	b.ReportMetric(per, "bytes/checkpoint")
	b.ReportMetric(per*365*24*3600/1e9, "GB/year@1/s")
}
