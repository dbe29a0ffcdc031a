package tiles

import (
	"bytes"
	"fmt"
	"strings"
)

// The text proof formats, tlog-proof and the tlog-witness add-checkpoint
// request, share one shape: a few header lines, one base64 hash a line, an
// empty line and a signed note, verbatim. These helpers read and write that
// shape; each format checks its own header lines and limits.

// cutProofNote splits body at its first empty line into the lines before it
// (at least one, possibly empty) and the note after it. ok is false when
// there is no empty line.
func cutProofNote(body []byte) (lines []string, note []byte, ok bool) {
	head, note, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return nil, nil, false
	}
	return strings.Split(string(head), "\n"), note, true
}

// parseHashLines decodes lines, each one canonical base64 hash, refusing more
// than max of them. No lines give a nil slice.
func parseHashLines(lines []string, max int) ([]Hash, error) {
	if len(lines) > max {
		return nil, fmt.Errorf("%d proof lines, at most %d", len(lines), max)
	}
	var hashes []Hash
	for i, l := range lines {
		h, err := ParseHash(l)
		if err != nil {
			return nil, fmt.Errorf("proof line %d: %w", i+1, err)
		}
		hashes = append(hashes, h)
	}
	return hashes, nil
}

// writeProofNote writes hashes one a line, the empty line and note: what
// follows the header lines of a text proof.
func writeProofNote(b *bytes.Buffer, hashes []Hash, note []byte) {
	for _, h := range hashes {
		fmt.Fprintf(b, "%s\n", h)
	}
	b.WriteByte('\n')
	b.Write(note)
}
