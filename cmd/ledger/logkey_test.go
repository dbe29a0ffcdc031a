package main

import (
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FuzzVkeyOf: for any key file that note.NewSigner accepts, vkeyOf derives
// the vkey that verifies the signer's notes; anything else is refused
// without a panic.
func FuzzVkeyOf(f *testing.F) {
	for _, name := range []string{"example.com/log", "a", "audit.example.com/prod"} {
		skey, _, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(skey)
	}
	f.Add("PRIVATE+KEY+x+00000000+")
	f.Add("PRIVATE+KEY+")
	f.Fuzz(func(t *testing.T, skey string) {
		vkey, err := vkeyOf(skey)
		signer, serr := note.NewSigner(skey)
		if serr != nil {
			return
		}
		if err != nil {
			t.Fatalf("vkeyOf refused a key note accepts: %v", err)
		}
		verifier, err := note.NewVerifier(vkey)
		if err != nil {
			t.Fatalf("vkeyOf returned a bad vkey %q: %v", vkey, err)
		}
		msg, err := note.Sign(&note.Note{Text: "hello\n"}, signer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := note.Open(msg, note.VerifierList(verifier)); err != nil {
			t.Fatalf("the derived vkey does not verify the key's signature: %v", err)
		}
	})
}
