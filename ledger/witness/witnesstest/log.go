// Package witnesstest helps test witnesses, their clients and their stores:
// an in-memory signed log that writes add-checkpoint requests, and the
// contract suite every witness.Store must pass.
package witnesstest

import (
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/ledger/witness"
	"github.com/ledger-dev/ledger/tiles"
)

// Log is an in-memory Merkle log that signs checkpoints with an Ed25519
// note key named after its origin and proves consistency between any two of
// its sizes. The tree is transparency-dev/merkle's reference implementation,
// independent of the tiles package the witness verifies with.
type Log struct {
	signer note.Signer
	// VKey is the log's verifier key, as it goes in a tlog-policy "log" line.
	VKey string
	tree *testonly.Tree
	tag  string // makes a fork's new leaves differ from the original's
}

// NewLog returns an empty log named origin with a fresh key.
func NewLog(t testing.TB, origin string) *Log {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return &Log{signer: signer, VKey: vkey, tree: testonly.New(rfc6962.DefaultHasher)}
}

// Origin returns the log's origin, the name of its key.
func (l *Log) Origin() string { return l.signer.Name() }

// Verifier returns the log's signature verifier.
func (l *Log) Verifier() note.Verifier {
	v, err := note.NewVerifier(l.VKey)
	if err != nil {
		panic(fmt.Sprintf("witnesstest: own vkey does not parse: %v", err))
	}
	return v
}

// WitnessLog returns the log as a witness.Config entry.
func (l *Log) WitnessLog() witness.Log {
	return witness.Log{Origin: l.Origin(), Verifier: l.Verifier()}
}

// Grow appends n leaves.
func (l *Log) Grow(n int) {
	for range n {
		l.tree.AppendData(fmt.Appendf(nil, "leaf %d%s", l.tree.Size(), l.tag))
	}
}

// Size returns the number of leaves.
func (l *Log) Size() uint64 { return l.tree.Size() }

// Root returns the root hash of the tree at size (≤ Size()).
func (l *Log) Root(size uint64) tiles.Hash {
	return tiles.Hash(l.tree.HashAt(size))
}

// Fork returns a log with the same key and the same first size leaves, whose
// new leaves differ from this log's: checkpoints of the two from size on are
// validly signed and inconsistent with each other.
func (l *Log) Fork(size uint64) *Log {
	f := &Log{signer: l.signer, VKey: l.VKey, tree: testonly.New(rfc6962.DefaultHasher), tag: l.tag + " fork"}
	for i := range size {
		f.tree.Append(l.tree.LeafHash(i))
	}
	return f
}

// Sign signs an arbitrary checkpoint with the log's key.
func (l *Log) Sign(t testing.TB, cp tiles.Checkpoint) []byte {
	t.Helper()
	b, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Checkpoint returns the signed checkpoint of the tree at size.
func (l *Log) Checkpoint(t testing.TB, size uint64) []byte {
	return l.Sign(t, tiles.Checkpoint{Origin: l.Origin(), Size: size, Hash: l.Root(size)})
}

// Proof returns the consistency proof from old to size.
func (l *Log) Proof(t testing.TB, old, size uint64) []tiles.Hash {
	t.Helper()
	p, err := l.tree.ConsistencyProof(old, size)
	if err != nil {
		t.Fatal(err)
	}
	hs := make([]tiles.Hash, len(p))
	for i, h := range p {
		hs[i] = tiles.Hash(h)
	}
	return hs
}

// Request returns the add-checkpoint request for the checkpoint at size from
// a witness that last cosigned old.
func (l *Log) Request(t testing.TB, old, size uint64) *tiles.AddCheckpointRequest {
	var proof []tiles.Hash
	if old > 0 && old <= size {
		proof = l.Proof(t, old, size)
	}
	return &tiles.AddCheckpointRequest{OldSize: old, Proof: proof, Checkpoint: l.Checkpoint(t, size)}
}
