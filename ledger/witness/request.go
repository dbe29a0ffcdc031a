package witness

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/ledger-dev/ledger/tiles"
)

// MaxBodySize bounds an add-checkpoint request body.
const MaxBodySize = 16 << 10

// maxProofLines is the most consistency-proof lines a request may carry.
// SPEC: the client MUST NOT send more than 63 consistency proof lines.
const maxProofLines = 63

// Request is a parsed C2SP tlog-witness add-checkpoint request.
type Request struct {
	OldSize    uint64       // the size the client believes the witness last cosigned
	Proof      []tiles.Hash // consistency proof from OldSize to the checkpoint's size
	Checkpoint []byte       // the signed checkpoint note
}

// ParseRequest parses an add-checkpoint body:
//
//	old <size>
//	<base64 hash>        (0 to 63 consistency proof lines)
//	                     (an empty line)
//	<signed checkpoint>
func ParseRequest(body []byte) (*Request, error) {
	if len(body) > MaxBodySize {
		return nil, fmt.Errorf("%w: body is over %d bytes", ErrBadRequest, MaxBodySize)
	}
	head, cp, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return nil, fmt.Errorf("%w: no empty line before the checkpoint", ErrBadRequest)
	}
	lines := strings.Split(string(head), "\n")
	v, ok := strings.CutPrefix(lines[0], "old ")
	if !ok {
		return nil, fmt.Errorf("%w: first line %q is not \"old <size>\"", ErrBadRequest, lines[0])
	}
	old, err := tiles.ParseSize(v)
	if err != nil {
		return nil, fmt.Errorf("%w: old size: %w", ErrBadRequest, err)
	}
	if len(cp) == 0 {
		return nil, fmt.Errorf("%w: no checkpoint after the empty line", ErrBadRequest)
	}
	r := &Request{OldSize: old, Checkpoint: cp}
	if len(lines)-1 > maxProofLines {
		return nil, fmt.Errorf("%w: %d proof lines, at most %d", ErrBadRequest, len(lines)-1, maxProofLines)
	}
	for _, l := range lines[1:] {
		h, err := tiles.ParseHash(l)
		if err != nil {
			return nil, fmt.Errorf("%w: proof line %d: %w", ErrBadRequest, len(r.Proof)+1, err)
		}
		r.Proof = append(r.Proof, h)
	}
	return r, nil
}

// Marshal encodes r as an add-checkpoint body.
func (r *Request) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", r.OldSize)
	for _, h := range r.Proof {
		fmt.Fprintf(&b, "%s\n", h)
	}
	b.WriteByte('\n')
	b.Write(r.Checkpoint)
	return b.Bytes()
}
