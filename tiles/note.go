package tiles

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// maxNoteSize bounds a signed checkpoint note. Post-quantum cosignatures are
// about 3.3 kB of base64 each, and verifiers must accept at least 16 of them.
const maxNoteSize = 1 << 17

// Errors a caller may branch on when opening a signed checkpoint.
var (
	// ErrNoLogSignature means no signature from a trusted log key verified.
	ErrNoLogSignature = errors.New("no trusted log signature")
	// ErrBadSignature means a signature line from a trusted key failed to verify.
	ErrBadSignature = errors.New("invalid signature from a trusted key")
	// ErrOriginMismatch means the checkpoint origin is not the verifying log key's name.
	ErrOriginMismatch = errors.New("checkpoint origin does not match the log key")
	// ErrQuorumNotMet means the witness cosignatures do not satisfy the policy's quorum.
	ErrQuorumNotMet = errors.New("witness quorum not met")
)

// SignedCheckpoint is a checkpoint whose log signature verified, with what was
// learned about its cosignatures.
type SignedCheckpoint struct {
	Checkpoint
	// Note is the whole signed note as it was received, signatures included.
	Note []byte
	// Text is the checkpoint note text that the signatures cover.
	Text []byte
	// Cosignatures lists the valid cosignatures from witnesses the policy knows, in note order.
	Cosignatures []Cosignature
	// Invalid lists known witnesses whose cosignature line failed to verify.
	// A bad line does not invalidate the checkpoint; it just does not count.
	Invalid []string
}

// Cosignature is one verified witness cosignature.
type Cosignature struct {
	Witness string    // the witness's name in the policy
	KeyName string    // the key name on the signature line
	Time    time.Time // the cosignature's timestamp: the witness saw this tree by then
}

// OpenCheckpoint verifies a signed checkpoint note: a signature from one of
// the log verifiers must verify (a failing signature by a trusted key rejects
// the note), the text must be a well-formed checkpoint, and its origin must be
// the verifying key's name. Signature lines must be canonical base64 so that
// no byte of the note can change without detection. Cosignatures are not
// examined; see Policy.Verify.
func OpenCheckpoint(msg []byte, logs ...note.Verifier) (*SignedCheckpoint, *note.Note, error) {
	if len(msg) > maxNoteSize {
		return nil, nil, fmt.Errorf("signed note is %d bytes, more than %d", len(msg), maxNoteSize)
	}
	if err := checkCanonicalSignatures(msg); err != nil {
		return nil, nil, err
	}
	n, err := note.Open(msg, note.VerifierList(logs...))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		return nil, nil, fmt.Errorf("%w: none of the %d signature lines is from a trusted log key (%s)", ErrNoLogSignature, len(unverified.Note.UnverifiedSigs), whoSigned(unverified.Note, logs))
	case errors.As(err, &invalid):
		return nil, nil, fmt.Errorf("%w: %s %08x", ErrBadSignature, invalid.Name, invalid.Hash)
	case err != nil:
		return nil, nil, fmt.Errorf("couldn't open signed note: %w", err)
	}
	cp, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, nil, err
	}
	matched := false
	for _, s := range n.Sigs {
		matched = matched || s.Name == cp.Origin
	}
	if !matched {
		return nil, nil, fmt.Errorf("%w: origin %q, signed by %q", ErrOriginMismatch, cp.Origin, n.Sigs[0].Name)
	}
	return &SignedCheckpoint{Checkpoint: cp, Note: bytes.Clone(msg), Text: []byte(n.Text)}, n, nil
}

// whoSigned says, for a checkpoint no trusted key signed, what it is of
// and who signed it, against the keys trusted, so that a wrong key is told
// apart from a wrong log.
func whoSigned(n *note.Note, logs []note.Verifier) string {
	origin, _, _ := strings.Cut(n.Text, "\n")
	var signers, trusted []string
	for _, s := range n.UnverifiedSigs {
		signers = append(signers, fmt.Sprintf("%q", s.Name))
	}
	for _, v := range logs {
		trusted = append(trusted, fmt.Sprintf("%q", v.Name()))
	}
	return fmt.Sprintf("the checkpoint of origin %q is signed by %s; the trusted keys are %s",
		origin, strings.Join(signers, ", "), strings.Join(trusted, ", "))
}

// checkCanonicalSignatures rejects signature lines whose base64 is not in
// canonical form. Go's decoder ignores the unused low bits of the last
// character, so without this check some single-character changes to a
// signature line would go unnoticed.
func checkCanonicalSignatures(msg []byte) error {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return errors.New("malformed signed note: no blank line before the signatures")
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(msg[i+2:], []byte("\n")), []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("— "))
		if !ok {
			return fmt.Errorf("malformed signed note: signature line %q does not start with an em dash", line)
		}
		sp := bytes.LastIndexByte(rest, ' ')
		if sp < 0 {
			return fmt.Errorf("malformed signed note: signature line %q has no signature", line)
		}
		if _, err := base64.StdEncoding.Strict().DecodeString(string(rest[sp+1:])); err != nil {
			return fmt.Errorf("malformed signed note: signature line %q is not canonical base64", line)
		}
	}
	return nil
}
