package tiles

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, the tree
// size and its root hash, and optional opaque extension lines.
type Checkpoint struct {
	Origin     string
	Size       uint64
	Hash       Hash
	Extensions []string // each non-empty, without its newline
}

// maxCheckpointSize bounds the checkpoint text we are willing to parse.
const maxCheckpointSize = 1 << 16

// Marshal returns the checkpoint note text: one line each for the origin,
// the decimal size, the base64 root hash and every extension line.
func (c Checkpoint) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, c.Hash)
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ErrMalformedCheckpoint is returned (wrapped) for checkpoint text that does not follow tlog-checkpoint.
var ErrMalformedCheckpoint = errors.New("malformed checkpoint")

// ParseCheckpoint strictly parses checkpoint note text (the part of the note
// before the signatures, including its final newline): at least three
// non-empty lines, each ending in a newline; a non-empty origin; a size in
// canonical decimal; a root hash of exactly 32 bytes in canonical base64; and
// the empty-tree root when the size is 0.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	bad := func(format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("%w: %s", ErrMalformedCheckpoint, fmt.Sprintf(format, args...))
	}
	if len(text) > maxCheckpointSize {
		return bad("%d bytes is too long", len(text))
	}
	if !utf8.Valid(text) {
		return bad("not valid UTF-8")
	}
	s := string(text)
	if !strings.HasSuffix(s, "\n") {
		return bad("text does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) < 3 {
		return bad("%d lines, want at least 3", len(lines))
	}
	for i, l := range lines {
		if l == "" {
			return bad("line %d is empty", i+1)
		}
		for _, r := range l {
			if r < 0x20 || r == 0x7f {
				return bad("line %d has control character %q", i+1, r)
			}
		}
	}
	var c Checkpoint
	c.Origin = lines[0]
	size, err := parseCanonical(lines[1], 1<<64-1)
	if err != nil {
		return bad("tree size %q %v", lines[1], err)
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != HashSize {
		return bad("root hash %q is not 32 bytes of canonical base64", lines[2])
	}
	c.Hash = Hash(root)
	if c.Size == 0 && c.Hash != EmptyRoot {
		return bad("size 0 with a root hash other than the empty tree's")
	}
	if len(lines) > 3 {
		c.Extensions = lines[3:]
	}
	return c, nil
}

// ParseSize parses a tree size in canonical decimal: no sign, no leading zeroes.
func ParseSize(s string) (uint64, error) {
	n, err := parseCanonical(s, 1<<64-1)
	if err != nil {
		return 0, fmt.Errorf("size %q %v", s, err)
	}
	return n, nil
}

// ParseNoteCheckpoint returns the checkpoint of a signed checkpoint note,
// read from its text (the part before the blank line). It does not check
// the signatures: it is for notes whose origin the caller trusts, such as
// the ones a log signed itself; OpenCheckpoint verifies.
func ParseNoteCheckpoint(note []byte) (Checkpoint, error) {
	i := bytes.Index(note, []byte("\n\n"))
	if i < 0 {
		return Checkpoint{}, fmt.Errorf("%w: the note has no signature block", ErrMalformedCheckpoint)
	}
	return ParseCheckpoint(note[:i+1])
}
