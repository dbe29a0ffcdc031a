package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/tiles"
)

// Verification is what VerifyReceipt established.
type Verification struct {
	// Checkpoint is the log checkpoint that includes the event, signed by
	// the log key of the policy (and cosigned as its quorum requires).
	Checkpoint *tiles.SignedCheckpoint
	// Leaf is the event's leaf bytes as the ledger stores them; it hashes
	// to the receipt's LeafHash.
	Leaf []byte
}

// VerifyReceipt checks that the log holds the receipt's event: it fetches a
// c2sp.org/tlog-proof@v1 for the receipt's index from GET /v1/proof/{index}
// and checks, in this order, that the proof is for that index, that the leaf
// it carries hashes to the receipt's LeafHash, holds the receipt's ID and
// equals the receipt's Leaf when that is known, and then (tiles.Proof.Verify)
// that the checkpoint is signed by a log key of policy, meets its witness
// quorum, and includes LeafHash at the index.
//
// policy is the verifier's trust root: tiles.NewLogPolicy(vkey) for a log
// key alone, tiles.ParsePolicy for a C2SP tlog-policy with witnesses. An
// entry is provable once the ledger has published a checkpoint covering it;
// before that the error wraps ErrNotPublished. A log that answers with
// something else than the receipt says gives an error wrapping
// ErrReceiptMismatch; a bad signature or proof, the tiles package's errors.
func (c *Client) VerifyReceipt(ctx context.Context, r Receipt, policy *tiles.Policy) (*Verification, error) {
	if policy == nil {
		return nil, errors.New("audit: VerifyReceipt needs a trust policy")
	}
	p, err := c.fetchProof(ctx, r.Index)
	if err != nil {
		return nil, err
	}
	if p.Index != r.Index {
		return nil, fmt.Errorf("%w: asked for the proof of index %d, got one for %d", ErrReceiptMismatch, r.Index, p.Index)
	}
	if err := checkLeaf(r, p.Extra); err != nil {
		return nil, err
	}
	sc, err := p.Verify(policy, r.LeafHash)
	if err != nil {
		return nil, fmt.Errorf("audit: receipt for index %d does not verify: %w", r.Index, err)
	}
	return &Verification{Checkpoint: sc, Leaf: p.Extra}, nil
}

func (c *Client) fetchProof(ctx context.Context, index uint64) (*tiles.Proof, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/proof/"+strconv.FormatUint(index, 10), nil)
	if err != nil {
		return nil, fmt.Errorf("couldn't build the proof request: %w", err)
	}
	b, err := c.do(req)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s", ErrNotPublished, e.Message)
	}
	if err != nil {
		return nil, err
	}
	p, err := tiles.ParseProof(b)
	if err != nil {
		return nil, fmt.Errorf("audit: the ledger's proof for index %d: %w", index, err)
	}
	return p, nil
}

// checkLeaf checks the leaf a proof carries against the receipt. The proof
// must carry one: the ledger always sends it.
func checkLeaf(r Receipt, leaf []byte) error {
	if leaf == nil {
		return fmt.Errorf("%w: the ledger's proof for index %d carries no leaf", ErrReceiptMismatch, r.Index)
	}
	if tiles.LeafHash(leaf) != r.LeafHash {
		return fmt.Errorf("%w: the leaf at index %d hashes to %s, the receipt says %s", ErrReceiptMismatch, r.Index, tiles.LeafHash(leaf), r.LeafHash)
	}
	if r.Leaf != nil && !bytes.Equal(r.Leaf, leaf) {
		return fmt.Errorf("%w: the leaf at index %d differs from the receipt's", ErrReceiptMismatch, r.Index)
	}
	ev, err := event.ParseLeaf(leaf)
	if err != nil {
		return fmt.Errorf("%w: the leaf at index %d is not an event: %v", ErrReceiptMismatch, r.Index, err)
	}
	if ev.ID != r.ID {
		return fmt.Errorf("%w: the event at index %d has id %q, the receipt says %q", ErrReceiptMismatch, r.Index, ev.ID, r.ID)
	}
	return nil
}
