package tiles_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
	"golang.org/x/mod/sumdb/note"
)

// SPECS §9 D: witness w1 has the Ed25519 seed 00..1f.
const (
	katW1Name = "witness.example.com/w1"
	katW1Vkey = "witness.example.com/w1+a0059f11+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
	// katW1Line is w1's cosignature of katCP15 at katCosigTime.
	katW1Line    = "— witness.example.com/w1 oAWfEQAAAABkGFDLo0vvaVMnQBetpNUCKKILroiWxoSAyyV9iB/cgczFo9ONQdSuKdatX9+k2ggtjAKaVSHrTWaVvipK5HiRqnepAA==\n"
	katCosigTime = 1679315147
	// katRemoraVkey is a real witness's key (SPECS §9 E).
	katRemoraVkey = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
)

// testSeed returns the Ed25519 seed first, first+1, ..., first+31.
func testSeed(first byte) []byte {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = first + byte(i)
	}
	return seed
}

// testKeyID computes a signed-note key ID from first principles.
func testKeyID(name string, alg byte, pub []byte) uint32 {
	h := sha256.Sum256(append(append([]byte(name+"\n"), alg), pub...))
	return binary.BigEndian.Uint32(h[:4])
}

// cosigSkey formats the x/mod-style private key of an Ed25519 key of type alg.
func cosigSkey(name string, alg byte, seed []byte) string {
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, testKeyID(name, alg, pub), base64.StdEncoding.EncodeToString(append([]byte{alg}, seed...)))
}

// cosigVkey formats the vkey of an Ed25519 key of type alg.
func cosigVkey(name string, alg byte, seed []byte) string {
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	return fmt.Sprintf("%s+%08x+%s", name, testKeyID(name, alg, pub), base64.StdEncoding.EncodeToString(append([]byte{alg}, pub...)))
}

// fixedClock returns a clock stopped at POSIX time ts.
func fixedClock(ts int64) func() time.Time {
	return func() time.Time { return time.Unix(ts, 0) }
}

// newCosigner returns a cosignature/v1 signer named name with seed
// testSeed(first), signing at POSIX time ts.
func newCosigner(t testing.TB, name string, first byte, ts int64) *tiles.CosignatureSigner {
	t.Helper()
	s, err := tiles.NewCosignatureSigner(cosigSkey(name, 0x04, testSeed(first)), fixedClock(ts))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sigLines signs note text with signers and returns just the signature lines.
func sigLines(t testing.TB, text string, signers ...note.Signer) string {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	lines, ok := strings.CutPrefix(string(msg), text+"\n")
	if !ok {
		t.Fatalf("signed note %q does not start with its text", msg)
	}
	return lines
}

func TestCosignatureKnownAnswer(t *testing.T) {
	seed := testSeed(0x00)
	skey := cosigSkey(katW1Name, 0x04, seed)
	s, err := tiles.NewCosignatureSigner(skey, fixedClock(katCosigTime))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Verifier().VKey(); got != katW1Vkey {
		t.Errorf("vkey = %s, want %s", got, katW1Vkey)
	}
	if s.Name() != katW1Name || s.KeyHash() != 0xa0059f11 {
		t.Errorf("signer is %s %08x, want %s a0059f11", s.Name(), s.KeyHash(), katW1Name)
	}
	// The same key as an Ed25519 (0x01) log key has ID 1c55deb1.
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	v01, err := note.NewEd25519VerifierKey(katW1Name, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v01, katW1Name+"+1c55deb1+A") {
		t.Errorf("0x01 vkey = %s, want ID 1c55deb1", v01)
	}

	// Cosigning C's size-15 checkpoint at the injected time gives the line.
	if got := sigLines(t, katCP15, s); got != katW1Line {
		t.Errorf("cosignature line = %q, want %q", got, katW1Line)
	}

	// The line decodes to ID ‖ timestamp ‖ an Ed25519 signature over the
	// cosigned message, checked here without the code under test.
	b64 := strings.TrimSuffix(strings.Fields(katW1Line)[2], "\n")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 76 {
		t.Fatalf("line payload: %d bytes, %v", len(raw), err)
	}
	if got := fmt.Sprintf("%x", raw[:12]); got != "a0059f1100000000641850cb" {
		t.Errorf("ID and timestamp = %s", got)
	}
	msg := "cosignature/v1\ntime 1679315147\nexample.com/log/testdata\n15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n"
	if !ed25519.Verify(pub, []byte(msg), raw[12:]) {
		t.Error("the Ed25519 signature does not cover the cosigned message")
	}

	// C's checkpoint with the line appended opens with the log and
	// witness verifiers: two valid signatures.
	logV, err := note.NewVerifier(katTesseraVkey)
	if err != nil {
		t.Fatal(err)
	}
	wv, err := tiles.NewCosignatureVerifier(katW1Vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(katCP15Note+katW1Line), note.VerifierList(logV, wv))
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Sigs) != 2 || len(n.UnverifiedSigs) != 0 {
		t.Errorf("note.Open: %d valid, %d unverified signatures; want 2, 0", len(n.Sigs), len(n.UnverifiedSigs))
	}
	ts, err := tiles.CosignatureTime(n.Sigs[1])
	if err != nil || !ts.Equal(time.Unix(katCosigTime, 0)) || ts.Location() != time.UTC {
		t.Errorf("CosignatureTime = %v, %v; want %v UTC", ts, err, time.Unix(katCosigTime, 0).UTC())
	}
}

func TestNewCosignatureVerifier(t *testing.T) {
	for _, tc := range []struct {
		vkey string
		name string
		id   uint32
	}{
		{katW1Vkey, katW1Name, 0xa0059f11},
		{katRemoraVkey, "remora.n621.de", 0xda77ade7},
	} {
		v, err := tiles.NewCosignatureVerifier(tc.vkey)
		if err != nil {
			t.Errorf("NewCosignatureVerifier(%s): %v", tc.vkey, err)
			continue
		}
		if v.Name() != tc.name || v.KeyHash() != tc.id || v.VKey() != tc.vkey {
			t.Errorf("NewCosignatureVerifier(%s) = %s %08x %s", tc.vkey, v.Name(), v.KeyHash(), v.VKey())
		}
	}

	w1Key := strings.SplitN(katW1Vkey, "+", 3)[2]
	v01 := cosigVkey(katW1Name, 0x01, testSeed(0))
	for _, vkey := range []string{
		katW1Name + "+deadbeef+" + w1Key, // wrong key ID
		katW1Name + "+1c55deb1+" + w1Key, // the 0x01 key's ID on a 0x04 key
		v01,                              // an Ed25519 (0x01) vkey
		"witness.example.com/w2+a0059f11+" + w1Key,                           // another name
		katW1Name + "+A0059F11+" + w1Key,                                     // uppercase hex
		katW1Name + "+a0059f1+" + w1Key,                                      // 7 hex digits
		katW1Name + "+0a0059f11+" + w1Key,                                    // 9 hex digits
		katW1Name + "+a0059f11+" + w1Key[:len(w1Key)-4],                      // short key
		katW1Name + "+a0059f11+" + w1Key + "AAAA",                            // long key
		katW1Name + "+a0059f11+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG5", // padding bits
		katW1Name + "+a0059f11+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UN\nXx3chmQSVTG4",
		katW1Name + "+a0059f11+",
		katW1Name + "+a0059f11",
		"+a0059f11+" + w1Key,
		"witness example+a0059f11+" + w1Key,
		"witness\x00+a0059f11+" + w1Key,
		cosigVkey(katW1Name, 0x06, testSeed(0)), // another algorithm
		"",
		katW1Vkey + "\n",
	} {
		if v, err := tiles.NewCosignatureVerifier(vkey); err == nil {
			t.Errorf("NewCosignatureVerifier(%q) = %s, want an error", vkey, v.VKey())
		}
	}
}

func TestCosignatureVerify(t *testing.T) {
	text := []byte(katCP15)
	s := newCosigner(t, katW1Name, 0, katCosigTime)
	v := s.Verifier()
	sig, err := s.Sign(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 72 || binary.BigEndian.Uint64(sig) != katCosigTime {
		t.Fatalf("Sign returned %d bytes with timestamp %d", len(sig), binary.BigEndian.Uint64(sig))
	}
	if !v.Verify(text, sig) {
		t.Fatal("Verify rejects a genuine cosignature")
	}
	priv := ed25519.NewKeyFromSeed(testSeed(0))
	signAt := func(ts uint64, text []byte) []byte {
		msg := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", ts, text)
		return append(binary.BigEndian.AppendUint64(nil, ts), ed25519.Sign(priv, msg)...)
	}
	if !v.Verify(text, signAt(0, text)) || !v.Verify(text, signAt(1<<63-1, text)) {
		t.Error("Verify rejects genuine cosignatures at times 0 and 2^63-1")
	}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name      string
		text, sig []byte
	}{
		{"timestamp 2^63", text, signAt(1<<63, text)},
		{"timestamp 2^64-1", text, signAt(1<<64-1, text)},
		{"other text", []byte("example.com/log/testdata\n16\n" + katRoot15 + "\n"), sig},
		{"timestamp changed", text, flip(sig, 7)},
		{"signature changed", text, flip(sig, 40)},
		{"truncated", text, sig[:71]},
		{"extended", text, append(bytes.Clone(sig), 0)},
		{"with the key ID", text, binary.BigEndian.AppendUint32(nil, v.KeyHash())},
		{"empty", text, nil},
		{"signature alone", text, sig[8:]},
		{"other key", text, func() []byte { s2 := newCosigner(t, katW1Name, 1, katCosigTime); b, _ := s2.Sign(text); return b }()},
	} {
		if v.Verify(tc.text, tc.sig) {
			t.Errorf("%s: Verify accepted", tc.name)
		}
	}

	// A clock before 1970 cannot sign.
	early, err := tiles.NewCosignatureSigner(cosigSkey(katW1Name, 0x04, testSeed(0)), fixedClock(-1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := early.Sign(text); err == nil {
		t.Error("Sign succeeded with a clock before 1970")
	}
}

func TestCosignatureTime(t *testing.T) {
	line := func(raw []byte) note.Signature {
		return note.Signature{Name: katW1Name, Hash: 0xa0059f11, Base64: base64.StdEncoding.EncodeToString(raw)}
	}
	good := append(binary.BigEndian.AppendUint32(nil, 0xa0059f11), binary.BigEndian.AppendUint64(nil, katCosigTime)...)
	good = append(good, make([]byte, 64)...)
	ts, err := tiles.CosignatureTime(line(good))
	if err != nil || ts != time.Date(2023, 3, 20, 12, 25, 47, 0, time.UTC) {
		t.Errorf("CosignatureTime = %v, %v; want 2023-03-20 12:25:47 UTC", ts, err)
	}
	max := bytes.Clone(good)
	binary.BigEndian.PutUint64(max[4:], 1<<63-1)
	if ts, err := tiles.CosignatureTime(line(max)); err != nil || ts.Unix() != 1<<63-1 {
		t.Errorf("CosignatureTime(2^63-1) = %v, %v", ts, err)
	}
	over := bytes.Clone(good)
	binary.BigEndian.PutUint64(over[4:], 1<<63)
	for name, sig := range map[string]note.Signature{
		"timestamp 2^63":  line(over),
		"Ed25519 log sig": line(make([]byte, 68)),
		"one byte short":  line(good[:75]),
		"one byte long":   line(append(bytes.Clone(good), 0)),
		"not base64":      {Name: katW1Name, Hash: 0xa0059f11, Base64: "!!!!"},
		"empty":           {},
	} {
		if ts, err := tiles.CosignatureTime(sig); err == nil {
			t.Errorf("%s: CosignatureTime = %v, want an error", name, ts)
		}
	}
}

func TestGenerateCosignatureKey(t *testing.T) {
	// With the seed 00..1f as randomness, the generated key is w1's.
	skey, vkey, err := tiles.GenerateCosignatureKey(bytes.NewReader(testSeed(0)), katW1Name)
	if err != nil {
		t.Fatal(err)
	}
	if vkey != katW1Vkey {
		t.Errorf("vkey = %s, want %s", vkey, katW1Vkey)
	}
	if want := cosigSkey(katW1Name, 0x04, testSeed(0)); skey != want {
		t.Errorf("skey = %s, want %s", skey, want)
	}

	skey, vkey, err = tiles.GenerateCosignatureKey(rand.Reader, "witness.example.com/gen")
	if err != nil {
		t.Fatal(err)
	}
	s, err := tiles.NewCosignatureSigner(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Verifier().VKey() != vkey {
		t.Errorf("signer's vkey %s != generated %s", s.Verifier().VKey(), vkey)
	}
	v, err := tiles.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	n, err := note.Open([]byte(katCP15+"\n"+sigLines(t, katCP15, s)), note.VerifierList(v))
	if err != nil {
		t.Fatalf("a cosignature by the generated key does not verify: %v", err)
	}
	if ts, err := tiles.CosignatureTime(n.Sigs[0]); err != nil || ts.Unix() < before-1 || ts.Unix() > time.Now().Unix() {
		t.Errorf("a nil clock signs at %v, %v; want now", ts, err)
	}

	for _, name := range []string{"", "a b", "a+b", "a\tb", "a\u00a0b", "\xff"} {
		if _, _, err := tiles.GenerateCosignatureKey(rand.Reader, name); err == nil {
			t.Errorf("GenerateCosignatureKey(%q) succeeded", name)
		}
	}
	if _, _, err := tiles.GenerateCosignatureKey(bytes.NewReader(nil), "w"); err == nil {
		t.Error("GenerateCosignatureKey with no randomness succeeded")
	}
}

func TestNewCosignatureSigner(t *testing.T) {
	// An Ed25519 (0x01) skey cosigns under the 0x04 key ID of the same key.
	s, err := tiles.NewCosignatureSigner(cosigSkey(katW1Name, 0x01, testSeed(0)), fixedClock(katCosigTime))
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyHash() != 0xa0059f11 || s.Verifier().VKey() != katW1Vkey {
		t.Errorf("0x01 skey: key %08x %s, want a0059f11 %s", s.KeyHash(), s.Verifier().VKey(), katW1Vkey)
	}
	if got := sigLines(t, katCP15, s); got != katW1Line {
		t.Errorf("0x01 skey cosignature line = %q, want %q", got, katW1Line)
	}

	good := cosigSkey(katW1Name, 0x04, testSeed(0))
	for _, skey := range []string{
		"",
		strings.TrimPrefix(good, "PRIVATE+KEY+"),
		"private+key+" + strings.TrimPrefix(good, "PRIVATE+KEY+"),
		katW1Vkey,
		cosigSkey(katW1Name, 0x02, testSeed(0)),
		cosigSkey(katW1Name, 0x06, testSeed(0)),
		"PRIVATE+KEY+" + katW1Name + "+a0059f11+" + base64.StdEncoding.EncodeToString(append([]byte{4}, testSeed(0)[:31]...)),
		"PRIVATE+KEY+" + katW1Name + "+a0059f11+" + base64.StdEncoding.EncodeToString(append([]byte{4}, make([]byte, 33)...)),
		"PRIVATE+KEY+witness example+a0059f11+" + base64.StdEncoding.EncodeToString(append([]byte{4}, testSeed(0)...)),
		"PRIVATE+KEY+" + katW1Name + "+a0059f11+not base64",
		// Key IDs that do not recompute from the name, type and key.
		strings.Replace(good, "+a0059f11+", "+deadbeef+", 1),
		strings.Replace(good, "+a0059f11+", "+1c55deb1+", 1), // the 0x01 ID on a 0x04 key
		strings.Replace(cosigSkey(katW1Name, 0x01, testSeed(0)), "+1c55deb1+", "+a0059f11+", 1),
		strings.Replace(good, katW1Name, "witness.example.com/w2", 1),
	} {
		if _, err := tiles.NewCosignatureSigner(skey, nil); err == nil {
			t.Errorf("NewCosignatureSigner(%q) succeeded", skey)
		}
	}
}
