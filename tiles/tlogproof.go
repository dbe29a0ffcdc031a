package tiles

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ProofHeader is the first line of a c2sp.org/tlog-proof@v1 file.
const ProofHeader = "c2sp.org/tlog-proof@v1"

// maxProofHashes bounds the inclusion proof: a tree of 2^64 leaves needs 64.
const maxProofHashes = 64

// Proof is a C2SP tlog-proof: an offline-verifiable proof that an entry is
// in a log, carrying the inclusion proof and the (cosigned) checkpoint it is
// relative to.
//
//	c2sp.org/tlog-proof@v1
//	extra <base64>          (optional, unauthenticated)
//	index <decimal>
//	<base64 hash>           (inclusion proof, from the leaf's sibling up)
//	                        (blank line)
//	<signed checkpoint note, verbatim>
type Proof struct {
	Extra      []byte // nil when absent
	Index      uint64
	Hashes     []Hash
	Checkpoint []byte // the signed note, signatures included
}

// Marshal encodes p in the tlog-proof format.
func (p *Proof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(ProofHeader + "\n")
	if p.Extra != nil {
		fmt.Fprintf(&b, "extra %s\n", base64.StdEncoding.EncodeToString(p.Extra))
	}
	fmt.Fprintf(&b, "index %d\n", p.Index)
	writeProofNote(&b, p.Hashes, p.Checkpoint)
	return b.Bytes()
}

// ErrMalformedProof is returned (wrapped) for input that is not a tlog-proof.
var ErrMalformedProof = errors.New("malformed tlog-proof")

// ParseProof strictly decodes a tlog-proof file. The checkpoint is not
// verified; see Proof.Verify.
func ParseProof(data []byte) (*Proof, error) {
	bad := func(format string, args ...any) (*Proof, error) {
		return nil, fmt.Errorf("%w: %s", ErrMalformedProof, fmt.Sprintf(format, args...))
	}
	if len(data) > maxNoteSize+4096 {
		return bad("%d bytes is too long", len(data))
	}
	lines, cp, ok := cutProofNote(data)
	if !ok {
		return bad("no blank line before the checkpoint")
	}
	if lines[0] != ProofHeader {
		return bad("first line is %q, want %q", lines[0], ProofHeader)
	}
	lines = lines[1:]
	p := &Proof{Checkpoint: bytes.Clone(cp)}
	if len(lines) > 0 {
		if v, ok := strings.CutPrefix(lines[0], "extra "); ok {
			extra, err := decodeBase64(v)
			if err != nil {
				return bad("extra data is not canonical base64")
			}
			p.Extra = extra
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return bad("no index line")
	}
	v, ok := strings.CutPrefix(lines[0], "index ")
	if !ok {
		return bad("line %q is not an index line", lines[0])
	}
	index, err := parseCanonical(v, 1<<64-1)
	if err != nil {
		return bad("index %q %v", v, err)
	}
	p.Index = index
	if p.Hashes, err = parseHashLines(lines[1:], maxProofHashes); err != nil {
		return bad("%v", err)
	}
	return p, nil
}

// Verify checks p for an entry whose leaf hash is leaf, in the order the
// spec gives: the checkpoint's log signature and origin under policy, the
// witness quorum, then inclusion. It returns the verified checkpoint; when
// only the quorum fails, the checkpoint comes back with an error wrapping
// ErrQuorumNotMet.
func (p *Proof) Verify(policy *Policy, leaf Hash) (*SignedCheckpoint, error) {
	sc, err := policy.Verify(p.Checkpoint)
	if sc == nil {
		return nil, err
	}
	if p.Index >= sc.Size {
		return sc, fmt.Errorf("%w: index %d is beyond the checkpoint's size %d", ErrProof, p.Index, sc.Size)
	}
	if ierr := VerifyInclusion(leaf, p.Index, sc.Size, p.Hashes, sc.Hash); ierr != nil {
		return sc, ierr
	}
	return sc, err
}
