package tiles

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// MaxAddCheckpointSize bounds an add-checkpoint request body: a witness reads
// no more, and ParseAddCheckpointRequest refuses a longer body.
const MaxAddCheckpointSize = 16 << 10

// maxConsistencyLines is the most consistency-proof lines a request may carry.
// SPEC: The client MUST NOT send more than 63 consistency proof lines.
const maxConsistencyLines = 63

// ErrMalformedAddCheckpoint is returned (wrapped) for a body that is not an
// add-checkpoint request. A witness answers it with 400 Bad Request.
var ErrMalformedAddCheckpoint = errors.New("malformed add-checkpoint request")

// AddCheckpointRequest is the body of a C2SP tlog-witness add-checkpoint
// request (c2sp.org/tlog-witness): the size the client believes the witness
// last cosigned, a consistency proof from there, and the new checkpoint.
//
//	old <decimal size>
//	<base64 hash>        (0 to 63 consistency proof lines)
//	                     (an empty line)
//	<signed checkpoint note, verbatim>
//
// For example, from a witness that last cosigned size 10:
//
//	old 10
//	pAOIRFIFCZyGdG+7o/5oiLkl1Z62p8GfBiCuFV2xvZU=
//	eaPI2VFd9/0n9EAkxeTtq+KlR5KGP7AFkNOXo+5vQLI=
//
//	example.com/log
//	1000
//	L/M/udjxT4nKMGKJYzM2oWj/P0Uy6PdBoAGdy0wdYKE=
//
//	— example.com/log 03wXuK21ghZoGRqR28olHJOlgX8PGqveMRcTO7lzngo4SMPgKIoX53Cc0zBheLY6kDK8eb4dtgzwWQ3FmX4NnwT2JQA=
//
// The request has one encoding: Marshal gives back the very bytes that
// ParseAddCheckpointRequest accepted.
type AddCheckpointRequest struct {
	OldSize    uint64 // the size the client believes the witness last cosigned
	Proof      []Hash // consistency proof from OldSize to the checkpoint's size
	Checkpoint []byte // the signed checkpoint note
}

// ParseAddCheckpointRequest strictly decodes an add-checkpoint body. Neither
// the checkpoint nor the proof is verified: that is the witness's job, against
// the state it keeps. Every error wraps ErrMalformedAddCheckpoint.
func ParseAddCheckpointRequest(body []byte) (*AddCheckpointRequest, error) {
	bad := func(format string, args ...any) (*AddCheckpointRequest, error) {
		return nil, fmt.Errorf("%w: %w", ErrMalformedAddCheckpoint, fmt.Errorf(format, args...))
	}
	if len(body) > MaxAddCheckpointSize {
		return bad("body is over %d bytes", MaxAddCheckpointSize)
	}
	// SPEC: The request body MUST be a sequence of an old size line, zero or
	// more consistency proof lines, and an empty line, followed by a
	// checkpoint. Each line MUST terminate in a newline character (U+000A).
	lines, cp, ok := cutProofNote(body)
	if !ok {
		return bad("no empty line before the checkpoint")
	}
	// SPEC: The old size line MUST consist of the string old, a single space
	// (0x20), and the tree size of the previous checkpoint encoded as an ASCII
	// decimal with no leading zeroes.
	v, ok := strings.CutPrefix(lines[0], "old ")
	if !ok {
		return bad("first line %q is not \"old <size>\"", lines[0])
	}
	old, err := ParseSize(v)
	if err != nil {
		return bad("old size: %w", err)
	}
	if len(cp) == 0 {
		return bad("no checkpoint after the empty line")
	}
	// SPEC: Each consistency proof line MUST encode a single hash in base64.
	proof, err := parseHashLines(lines[1:], maxConsistencyLines)
	if err != nil {
		return bad("%w", err)
	}
	return &AddCheckpointRequest{OldSize: old, Proof: proof, Checkpoint: cp}, nil
}

// Marshal encodes r as an add-checkpoint body.
func (r *AddCheckpointRequest) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", r.OldSize)
	writeProofNote(&b, r.Proof, r.Checkpoint)
	return b.Bytes()
}
