package tiles_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
	"golang.org/x/mod/sumdb/note"
)

// Known-answer notes and keys from SPECS §9 A, B and C.
const (
	// A: the C2SP signed-note example.
	katFooVkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
	katFooNote = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"

	// B: x/mod sumdb/note.
	katPeterSkey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
	katPeterVkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
	katPeterText = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
	katPeterLine = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

	// C: the Tessera test log.
	katTesseraSkey = "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
	katTesseraVkey = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
	katCP15        = "example.com/log/testdata\n15\n" + katRoot15 + "\n"
	katCP15Line    = "— example.com/log/testdata M9e0luh4jTG+UMBqOUo9/q+yAEvx1ilBEniMvjf1zfcBOhg+CKubMt53MvIt/uEWP6zdkdIQzd/fmwlM/dlPWF74ewI=\n"
	katCP15Note    = katCP15 + "\n" + katCP15Line
)

func mustVerifier(t testing.TB, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustSigner(t testing.TB, skey string) note.Signer {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSignedNoteExample checks the C2SP signed-note example: a valid note,
// but not a checkpoint.
func TestSignedNoteExample(t *testing.T) {
	v := mustVerifier(t, katFooVkey)
	n, err := note.Open([]byte(katFooNote), note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	if n.Text != "This is an example message.\n" || len(n.Sigs) != 1 || n.Sigs[0].Name != "example.com/foo" || n.Sigs[0].Hash != 0x530d903a {
		t.Errorf("note.Open = %+v", n)
	}
	_, _, err = tiles.OpenCheckpoint([]byte(katFooNote), v)
	if !errors.Is(err, tiles.ErrMalformedCheckpoint) {
		t.Errorf("OpenCheckpoint(example note) error = %v, want ErrMalformedCheckpoint", err)
	}
}

func TestPeterNeumann(t *testing.T) {
	s := mustSigner(t, katPeterSkey)
	if got := sigLines(t, katPeterText, s); got != katPeterLine {
		t.Errorf("re-signed line = %q, want %q", got, katPeterLine)
	}
	v := mustVerifier(t, katPeterVkey)
	if _, err := note.Open([]byte(katPeterText+"\n"+katPeterLine), note.VerifierList(v)); err != nil {
		t.Errorf("note.Open: %v", err)
	}
	p, err := tiles.NewLogPolicy(katPeterVkey)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Logs) != 1 || p.Logs[0].VKey != katPeterVkey || p.Logs[0].Verifier.Name() != "PeterNeumann" || p.Logs[0].Verifier.KeyHash() != 0xc74f20a3 || p.Quorum != nil || len(p.Witnesses) != 0 {
		t.Errorf("NewLogPolicy = %+v", p)
	}
	for _, vkey := range []string{
		"PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", // key length
		"PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",         // algorithm
	} {
		if _, err := note.NewVerifier(vkey); err == nil {
			t.Errorf("note.NewVerifier(%s) succeeded", vkey)
		}
		if _, err := tiles.NewLogPolicy(vkey); err == nil {
			t.Errorf("NewLogPolicy(%s) succeeded", vkey)
		}
	}
	// A cosignature/v1 key is not a log key.
	if _, err := tiles.NewLogPolicy(katW1Vkey); err == nil {
		t.Error("NewLogPolicy accepted a cosignature/v1 vkey")
	}
}

func TestOpenCheckpoint(t *testing.T) {
	logV := mustVerifier(t, katTesseraVkey)
	for name, msg := range map[string]string{
		"checkpoint":                  katCP15Note,
		"with a cosignature":          katCP15Note + katW1Line,
		"with an unknown signature":   katCP15 + "\n" + katPeterLine + katCP15Line,
		"with a 0x04 line, same name": katCP15Note + strings.Replace(katW1Line, katW1Name, "example.com/log/testdata", 1),
	} {
		sc, n, err := tiles.OpenCheckpoint([]byte(msg), logV)
		if err != nil {
			t.Errorf("%s: OpenCheckpoint: %v", name, err)
			continue
		}
		if sc.Origin != "example.com/log/testdata" || sc.Size != 15 || sc.Hash.String() != katRoot15 || sc.Extensions != nil {
			t.Errorf("%s: checkpoint = %+v", name, sc.Checkpoint)
		}
		if string(sc.Note) != msg || string(sc.Text) != katCP15 || n.Text != katCP15 {
			t.Errorf("%s: Note/Text = %q / %q", name, sc.Note, sc.Text)
		}
		if len(n.Sigs) != 1 || n.Sigs[0].Hash != 0x33d7b496 {
			t.Errorf("%s: verified signatures %+v", name, n.Sigs)
		}
		if sc.Cosignatures != nil || sc.Invalid != nil {
			t.Errorf("%s: OpenCheckpoint examined cosignatures: %+v %v", name, sc.Cosignatures, sc.Invalid)
		}
	}
	// Any one trusted log key is enough.
	if _, _, err := tiles.OpenCheckpoint([]byte(katCP15Note), mustVerifier(t, katPeterVkey), logV); err != nil {
		t.Errorf("OpenCheckpoint with two log keys: %v", err)
	}
}

func TestOpenCheckpointRejects(t *testing.T) {
	logV := mustVerifier(t, katTesseraVkey)
	logS := mustSigner(t, katTesseraSkey)
	signed := func(text string) string {
		return text + "\n" + sigLines(t, text, logS)
	}
	// The last base64 character before the padding holds 4 data bits and
	// 2 padding bits: I (001000) and J (001001) decode to the same bytes.
	nonCanonical := strings.Replace(katCP15Note, "ewI=", "ewJ=", 1)
	if _, err := note.Open([]byte(nonCanonical), note.VerifierList(logV)); err != nil {
		t.Fatalf("note.Open rejects the non-canonical line itself (%v): the test is moot", err)
	}
	nonCanonicalW1 := strings.Replace(katW1Line, "pAA==", "pAB==", 1)

	sig := strings.Fields(katCP15Line)[2]
	corrupt := strings.Replace(katCP15Note, sig, sig[:40]+"A"+sig[41:], 1)
	if sig[40] == 'A' {
		t.Fatal("corruption does not change the signature")
	}
	var many strings.Builder
	many.WriteString(katCP15Note)
	for i := range 100 {
		s := newCosigner(t, "w"+strings.Repeat("x", i), 0, katCosigTime)
		many.WriteString(sigLines(t, katCP15, s))
	}

	for _, tc := range []struct {
		name string
		msg  string
		want error // nil: any error
	}{
		{"origin differs from the key name", signed("example.com/other\n15\n" + katRoot15 + "\n"), tiles.ErrOriginMismatch},
		{"untrusted key", katCP15 + "\n" + sigLines(t, katCP15, mustSigner(t, katPeterSkey)), tiles.ErrNoLogSignature},
		{"witness signature only", katCP15 + "\n" + katW1Line, tiles.ErrNoLogSignature},
		{"corrupted trusted signature", corrupt, tiles.ErrBadSignature},
		{"trusted signature over other text", strings.Replace(katCP15Note, "\n15\n", "\n16\n", 1), tiles.ErrBadSignature},
		{"truncated trusted signature", strings.Replace(katCP15Note, "ewI=", "=", 1), nil},
		{"non-canonical signature base64", nonCanonical, nil},
		{"non-canonical unknown line", katCP15Note + nonCanonicalW1, nil},
		{"signature without padding", strings.Replace(katCP15Note, "ewI=", "ewI", 1), nil},
		{"size 015", signed("example.com/log/testdata\n015\n" + katRoot15 + "\n"), tiles.ErrMalformedCheckpoint},
		{"size 0 with a non-empty root", signed("example.com/log/testdata\n0\n" + katRoot15 + "\n"), tiles.ErrMalformedCheckpoint},
		{"two lines", signed("example.com/log/testdata\n15\n"), tiles.ErrMalformedCheckpoint},
		{"no signatures", katCP15, nil},
		{"no blank line", katCP15 + katCP15Line, nil},
		{"blank line only", katCP15 + "\n", nil},
		{"no final newline", strings.TrimSuffix(katCP15Note, "\n"), nil},
		{"en dash", strings.Replace(katCP15Note, "—", "–", 1), nil},
		{"hyphen", strings.Replace(katCP15Note, "—", "-", 1), nil},
		{"no space after the dash", strings.Replace(katCP15Note, "— ", "—", 1), nil},
		{"CR in the text", signed("example.com/log/testdata\r\n15\n" + katRoot15 + "\n"), nil},
		{"CRLF line ends", strings.ReplaceAll(katCP15Note, "\n", "\r\n"), nil},
		{"invalid UTF-8", strings.Replace(katCP15Note, "testdata\n", "testdata\xff\n", 1), nil},
		{"101 signature lines", many.String(), nil},
		{"too long", katCP15Note + strings.Repeat(katW1Line, (1<<17)/len(katW1Line)+1), nil},
		{"empty", "", nil},
	} {
		sc, _, err := tiles.OpenCheckpoint([]byte(tc.msg), logV)
		if err == nil {
			t.Errorf("%s: OpenCheckpoint = %+v, want an error", tc.name, sc.Checkpoint)
			continue
		}
		if sc != nil {
			t.Errorf("%s: OpenCheckpoint returned a checkpoint with error %v", tc.name, err)
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestOpenCheckpointSignsText checks that the signature covers exactly the
// text: every single-byte change to the note is rejected.
func TestOpenCheckpointEveryByte(t *testing.T) {
	logV := mustVerifier(t, katTesseraVkey)
	msg := []byte(katCP15Note)
	for i := range msg {
		for _, d := range []byte{1, 2, 0x40} {
			m := bytes.Clone(msg)
			m[i] ^= d
			if sc, _, err := tiles.OpenCheckpoint(m, logV); err == nil {
				t.Errorf("byte %d ^ %#x: OpenCheckpoint accepted %q as %+v", i, d, m, sc.Checkpoint)
			}
		}
	}
}
