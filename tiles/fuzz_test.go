package tiles_test

// Native fuzz targets for every parser in package tiles. Each target checks
// properties of what a parser accepts (round trips, invariants, agreement with
// an independent reference), not only that it does not panic.
//
// Seed corpora live in testdata/fuzz/<FuzzName>/; "go test -run Fuzz" runs
// them (and the f.Add seeds below) as ordinary tests. The known-answer values
// are the Tessera test log's (testdata/build_log.sh: key, size-15 checkpoint,
// bundles) and a cosignature/v1 made with the Ed25519 seed 00..1f.
//
// Some targets verify signatures on every input, so minimizing each new
// interesting input can take the whole default -fuzzminimizetime (60s); run
// them with e.g. -fuzzminimizetime 5s.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
	"golang.org/x/mod/sumdb/note"
)

// Known-answer values (SPECS §9 C and D).
const (
	// The Tessera test log key: the fuzz targets' trusted log.
	fuzzLogSkey = "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
	fuzzLogVkey = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
	fuzzCP15    = "example.com/log/testdata\n15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n"
	fuzzCP15Sig = "— example.com/log/testdata M9e0luh4jTG+UMBqOUo9/q+yAEvx1ilBEniMvjf1zfcBOhg+CKubMt53MvIt/uEWP6zdkdIQzd/fmwlM/dlPWF74ewI=\n"

	// Witness w1: Ed25519 seed 00..1f; its cosignature of fuzzCP15 at fuzzCosigTime.
	fuzzW1Name    = "witness.example.com/w1"
	fuzzW1Vkey    = "witness.example.com/w1+a0059f11+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
	fuzzW1Line    = "— witness.example.com/w1 oAWfEQAAAABkGFDLo0vvaVMnQBetpNUCKKILroiWxoSAyyV9iB/cgczFo9ONQdSuKdatX9+k2ggtjAKaVSHrTWaVvipK5HiRqnepAA==\n"
	fuzzCosigTime = 1679315147

	// Witness w2: Ed25519 seed 20..3f.
	fuzzW2Name = "witness.example.com/w2"
)

// fuzzWitness is a witness key built from a fixed seed.
type fuzzWitness struct {
	name string
	priv ed25519.PrivateKey
	id   uint32
	vkey string
	skey string
}

func newFuzzWitness(name string, first byte) fuzzWitness {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = first + byte(i)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	h := sha256.Sum256(append([]byte(name+"\n\x04"), pub...))
	id := binary.BigEndian.Uint32(h[:])
	enc := func(key []byte) string {
		return name + "+" + strconv.FormatUint(uint64(id)|1<<32, 16)[1:] + "+" + base64.StdEncoding.EncodeToString(append([]byte{4}, key...))
	}
	return fuzzWitness{name: name, priv: priv, id: id, vkey: enc(pub), skey: "PRIVATE+KEY+" + enc(seed)}
}

// cosign returns the cosignature/v1 signature (after the key ID) of text at ts.
func (w fuzzWitness) cosign(text []byte, ts uint64) []byte {
	msg := append([]byte("cosignature/v1\ntime "+strconv.FormatUint(ts, 10)+"\n"), text...)
	return append(binary.BigEndian.AppendUint64(nil, ts), ed25519.Sign(w.priv, msg)...)
}

// line returns the note signature line for a cosignature of text at ts.
func (w fuzzWitness) line(text []byte, ts uint64) string {
	raw := append(binary.BigEndian.AppendUint32(nil, w.id), w.cosign(text, ts)...)
	return "— " + w.name + " " + base64.StdEncoding.EncodeToString(raw) + "\n"
}

type fuzzFixture struct {
	logSigner   note.Signer
	logVerifier note.Verifier
	w1, w2      fuzzWitness
	policyText  string
	policy      *tiles.Policy
}

var fuzzFixtures = sync.OnceValues(func() (*fuzzFixture, error) {
	fx := &fuzzFixture{w1: newFuzzWitness(fuzzW1Name, 0x00), w2: newFuzzWitness(fuzzW2Name, 0x20)}
	var err error
	if fx.logSigner, err = note.NewSigner(fuzzLogSkey); err != nil {
		return nil, err
	}
	if fx.logVerifier, err = note.NewVerifier(fuzzLogVkey); err != nil {
		return nil, err
	}
	if fx.w1.vkey != fuzzW1Vkey {
		return nil, errors.New("w1 vkey does not match SPECS §9 D: " + fx.w1.vkey)
	}
	fx.policyText = "log " + fuzzLogVkey + " https://example.com/log/testdata/\n" +
		"witness w1 " + fx.w1.vkey + "\n" +
		"witness w2 " + fx.w2.vkey + "\n" +
		"group both all w1 w2\n" +
		"quorum both\n"
	if fx.policy, err = tiles.ParsePolicy([]byte(fx.policyText)); err != nil {
		return nil, err
	}
	return fx, nil
})

func fuzzFix(tb testing.TB) *fuzzFixture {
	tb.Helper()
	fx, err := fuzzFixtures()
	if err != nil {
		tb.Fatal(err)
	}
	return fx
}

// signed returns text signed by the log key.
func (fx *fuzzFixture) signed(tb testing.TB, text string) []byte {
	tb.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, fx.logSigner)
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

// fuzzSigLine is one signature line of a note, split the way x/mod/sumdb/note does.
type fuzzSigLine struct {
	name string
	raw  []byte // key ID and signature
}

// fuzzSigLines independently splits a signed note into its text and
// signature lines. ok is false if the signature block is malformed.
func fuzzSigLines(msg []byte) (text []byte, lines []fuzzSigLine, ok bool) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 || !bytes.HasSuffix(msg[i+2:], []byte("\n")) {
		return nil, nil, false
	}
	text = msg[:i+1]
	for _, l := range strings.SplitAfter(string(msg[i+2:]), "\n") {
		if l == "" {
			continue
		}
		rest, found := strings.CutPrefix(strings.TrimSuffix(l, "\n"), "— ")
		if !found {
			return nil, nil, false
		}
		name, b64, _ := strings.Cut(rest, " ")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) < 5 {
			return nil, nil, false
		}
		lines = append(lines, fuzzSigLine{name, raw})
	}
	return text, lines, true
}

// fuzzCanonicalSigs reports whether every signature line's base64 is canonical.
func fuzzCanonicalSigs(msg []byte) bool {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(msg[i+2:]), "\n"), "\n") {
		sp := strings.LastIndexByte(l, ' ')
		if sp < 0 {
			return false
		}
		b64 := l[sp+1:]
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || base64.StdEncoding.EncodeToString(raw) != b64 {
			return false
		}
	}
	return true
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"tile/0/x001/x234/067.p/8",
		"tile/15/x455/667",
		"tile/entries/x001/x234/067.p/8",
		"tile/63/x999/x999/x999/x999/x999/999.p/255",
		"tile/0/x001/x234/067.p/",
		"tile/64/000",
		"tile/0/000.p/256",
		"tile/0/x000/005",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tl, err := tiles.ParsePath(s)
		if err != nil {
			if !errors.Is(err, tiles.ErrBadPath) {
				t.Fatalf("ParsePath(%q) error %v does not wrap ErrBadPath", s, err)
			}
			return
		}
		if p := tl.Path(); p != s {
			t.Fatalf("ParsePath(%q) = %+v, whose Path() is %q", s, tl, p)
		}
		if tl.Level > tiles.MaxLevel {
			t.Fatalf("ParsePath(%q) level %d > %d", s, tl.Level, tiles.MaxLevel)
		}
		if tl.Width < 1 || tl.Width > tiles.TileWidth {
			t.Fatalf("ParsePath(%q) width %d outside 1..256", s, tl.Width)
		}
		if tl.Entries && tl.Level != 0 {
			t.Fatalf("ParsePath(%q) is an entry bundle at level %d", s, tl.Level)
		}
		if tl.Full() != (tl.Width == tiles.TileWidth) || tl.Full() == strings.Contains(s, ".p/") {
			t.Fatalf("ParsePath(%q) = %+v: Full() is %v", s, tl, tl.Full())
		}
		if tl.String() != s {
			t.Fatalf("String() = %q, want %q", tl.String(), s)
		}
	})
}

// FuzzTilePath is the other direction: every valid Tile's path parses back to it.
func FuzzTilePath(f *testing.F) {
	f.Add(uint8(0), uint64(1234067), uint16(8), false)
	f.Add(uint8(15), uint64(455667), uint16(256), false)
	f.Add(uint8(0), uint64(1<<64-1), uint16(255), true)
	f.Add(uint8(63), uint64(999999999999999999), uint16(0), false)
	f.Fuzz(func(t *testing.T, level uint8, index uint64, width uint16, entries bool) {
		tl := tiles.Tile{Level: level % (tiles.MaxLevel + 1), Index: index, Width: width%tiles.TileWidth + 1, Entries: entries}
		if entries {
			tl.Level = 0
		}
		p := tl.Path()
		got, err := tiles.ParsePath(p)
		if err != nil {
			t.Fatalf("ParsePath(%q) for %+v: %v", p, tl, err)
		}
		if got != tl {
			t.Fatalf("ParsePath(%q) = %+v, want %+v", p, got, tl)
		}
	})
}

func FuzzParseHashTile(f *testing.F) {
	f.Add(make([]byte, 32), uint16(1))
	f.Add(make([]byte, 8192), uint16(256))
	f.Add(make([]byte, 8192), uint16(0))
	f.Add(make([]byte, 31), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, width uint16) {
		hs, err := tiles.ParseHashTile(data, width)
		valid := width >= 1 && width <= tiles.TileWidth && len(data) == int(width)*tiles.HashSize
		if (err == nil) != valid {
			t.Fatalf("ParseHashTile(%d bytes, width %d): err = %v, want valid = %v", len(data), width, err, valid)
		}
		if err != nil {
			return
		}
		if len(hs) != int(width) {
			t.Fatalf("ParseHashTile returned %d hashes, want %d", len(hs), width)
		}
		if enc := tiles.MarshalHashTile(hs); !bytes.Equal(enc, data) {
			t.Fatalf("MarshalHashTile(ParseHashTile(x)) != x")
		}
	})
}

// fuzzRefBundle is an independent entry bundle decoder: a sequence of
// uint16-length-prefixed entries that exactly fills data.
func fuzzRefBundle(data []byte) ([][]byte, bool) {
	var out [][]byte
	for off := 0; off < len(data); {
		if off+2 > len(data) {
			return nil, false
		}
		n := int(data[off])<<8 | int(data[off+1])
		if off+2+n > len(data) {
			return nil, false
		}
		out = append(out, data[off+2:off+2+n])
		off += 2 + n
	}
	return out, true
}

func FuzzParseEntryBundle(f *testing.F) {
	f.Add([]byte("\x00\x03one\x00\x03two\x00\x05three"), uint16(3)) // tile/entries/000.p/3
	f.Add([]byte("\x00\x00"), uint16(1))
	f.Add([]byte("\x00\x03one\x00"), uint16(1))
	f.Add([]byte("\x00\x05one"), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, width uint16) {
		entries, err := tiles.ParseEntryBundle(data, width)
		ref, refOK := fuzzRefBundle(data)
		valid := width >= 1 && width <= tiles.TileWidth && refOK && len(ref) == int(width)
		if (err == nil) != valid {
			t.Fatalf("ParseEntryBundle(%q, %d): err = %v, want valid = %v", data, width, err, valid)
		}
		if err != nil {
			return
		}
		if len(entries) != int(width) {
			t.Fatalf("ParseEntryBundle returned %d entries, want %d", len(entries), width)
		}
		var enc []byte
		for i, e := range entries {
			if !bytes.Equal(e, ref[i]) {
				t.Fatalf("entry %d = %q, reference decoder says %q", i, e, ref[i])
			}
			if enc, err = tiles.AppendEntry(enc, e); err != nil {
				t.Fatalf("AppendEntry(entry %d of %d bytes): %v", i, len(e), err)
			}
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding the %d entries gives %q, want %q", len(entries), enc, data)
		}
	})
}

func FuzzParseHash(f *testing.F) {
	f.Add("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	f.Add("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=")
	f.Add("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuA==")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := tiles.ParseHash(s)
		if err != nil {
			return
		}
		if h.String() != s {
			t.Fatalf("ParseHash(%q) = %s: not the canonical encoding", s, h)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte(fuzzCP15))
	f.Add([]byte("example.com/log/testdata\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nextension\n"))
	f.Add([]byte("o\n015\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n"))
	f.Add([]byte("o\n0\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := tiles.ParseCheckpoint(text)
		if err != nil {
			if !errors.Is(err, tiles.ErrMalformedCheckpoint) {
				t.Fatalf("ParseCheckpoint error %v does not wrap ErrMalformedCheckpoint", err)
			}
			return
		}
		if m := c.Marshal(); !bytes.Equal(m, text) {
			t.Fatalf("ParseCheckpoint(%q).Marshal() = %q", text, m)
		}
		if c.Size == 0 && c.Hash != tiles.EmptyRoot {
			t.Fatalf("ParseCheckpoint(%q): size 0 with root %s", text, c.Hash)
		}
		if c.Origin == "" || strings.Contains(c.Origin, "\n") {
			t.Fatalf("ParseCheckpoint(%q): bad origin %q", text, c.Origin)
		}
		for _, e := range c.Extensions {
			if e == "" || strings.Contains(e, "\n") {
				t.Fatalf("ParseCheckpoint(%q): bad extension line %q", text, e)
			}
		}
		if strconv.FormatUint(c.Size, 10) != strings.Split(string(text), "\n")[1] {
			t.Fatalf("ParseCheckpoint(%q): size %d is not the second line", text, c.Size)
		}
	})
}

func FuzzOpenCheckpoint(f *testing.F) {
	fx := fuzzFix(f)
	f.Add([]byte(fuzzCP15 + "\n" + fuzzCP15Sig))
	f.Add([]byte(fuzzCP15 + "\n" + fuzzCP15Sig + fuzzW1Line))
	f.Add(fx.signed(f, "example.com/log/testdata\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add(fx.signed(f, "example.com/other\n15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n"))
	f.Add([]byte(fuzzCP15 + "\n" + strings.Replace(fuzzCP15Sig, "ewI=", "ewJ=", 1)))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fx := fuzzFix(t)
		sc, n, err := tiles.OpenCheckpoint(msg, fx.logVerifier)

		// Reference: x/mod's note.Open, canonical base64 signatures, a
		// well-formed checkpoint and an origin that is the log key's name.
		refN, refErr := note.Open(msg, note.VerifierList(fx.logVerifier))
		refOK := len(msg) <= 1<<17 && refErr == nil && fuzzCanonicalSigs(msg)
		if refOK {
			cp, perr := tiles.ParseCheckpoint([]byte(refN.Text))
			refOK = perr == nil && cp.Origin == fx.logVerifier.Name()
		}
		if (err == nil) != refOK {
			t.Fatalf("OpenCheckpoint(%q): err = %v, reference says ok = %v (note.Open: %v)", msg, err, refOK, refErr)
		}
		if err != nil {
			if sc != nil || n != nil {
				t.Fatalf("OpenCheckpoint failed (%v) but returned a checkpoint or note", err)
			}
			return
		}
		cp, perr := tiles.ParseCheckpoint(sc.Text)
		if perr != nil {
			t.Fatalf("OpenCheckpoint succeeded but its text does not parse: %v", perr)
		}
		if !reflect.DeepEqual(cp, sc.Checkpoint) {
			t.Fatalf("OpenCheckpoint checkpoint %+v, its text parses to %+v", sc.Checkpoint, cp)
		}
		if sc.Origin != fx.logVerifier.Name() {
			t.Fatalf("origin %q, log key name %q", sc.Origin, fx.logVerifier.Name())
		}
		if !bytes.Equal(sc.Note, msg) || !bytes.HasPrefix(msg, append(bytes.Clone(sc.Text), '\n')) || string(sc.Text) != n.Text {
			t.Fatalf("OpenCheckpoint(%q): Note/Text do not match the input", msg)
		}
		// The log's signature must be the one its (deterministic) Ed25519 key makes.
		sig, serr := fx.logSigner.Sign(sc.Text)
		if serr != nil {
			t.Fatal(serr)
		}
		want := "— " + fx.logSigner.Name() + " " + base64.StdEncoding.EncodeToString(append(binary.BigEndian.AppendUint32(nil, fx.logSigner.KeyHash()), sig...)) + "\n"
		if !bytes.Contains(msg[len(sc.Text):], []byte("\n"+want)) {
			t.Fatalf("OpenCheckpoint(%q) accepted a note without the log's genuine signature line", msg)
		}
	})
}

func FuzzNewCosignatureVerifier(f *testing.F) {
	f.Add(fuzzW1Vkey)
	f.Add("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
	f.Add(fuzzLogVkey)
	f.Add("witness.example.com/w1+deadbeef+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4")
	f.Fuzz(func(t *testing.T, vkey string) {
		v, err := tiles.NewCosignatureVerifier(vkey)
		if err != nil {
			return
		}
		if v.VKey() != vkey {
			t.Fatalf("NewCosignatureVerifier(%q).VKey() = %q", vkey, v.VKey())
		}
		name, rest, _ := strings.Cut(vkey, "+")
		if v.Name() != name || !strings.HasPrefix(rest, strconv.FormatUint(uint64(v.KeyHash())|1<<32, 16)[1:]+"+") {
			t.Fatalf("NewCosignatureVerifier(%q): name %q, key hash %08x", vkey, v.Name(), v.KeyHash())
		}
		// The key ID must recompute from name, type 0x04 and public key.
		key, err := base64.StdEncoding.DecodeString(rest[9:])
		if err != nil || len(key) != 33 || key[0] != 4 {
			t.Fatalf("NewCosignatureVerifier(%q) accepted key bytes %x", vkey, key)
		}
		h := sha256.Sum256(append([]byte(name+"\n"), key...))
		if binary.BigEndian.Uint32(h[:]) != v.KeyHash() {
			t.Fatalf("NewCosignatureVerifier(%q): key ID does not recompute", vkey)
		}
		// A name the note package cannot use must not get through.
		if _, err := note.NewEd25519VerifierKey(name, key[1:]); err != nil {
			t.Fatalf("NewCosignatureVerifier(%q) accepted a name note rejects: %v", vkey, err)
		}
	})
}

func FuzzNewCosignatureSigner(f *testing.F) {
	fx := fuzzFix(f)
	f.Add(fx.w1.skey)
	f.Add(fuzzLogSkey)
	f.Add("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
	f.Add(fuzzW1Vkey)
	f.Fuzz(func(t *testing.T, skey string) {
		s, err := tiles.NewCosignatureSigner(skey, func() time.Time { return time.Unix(fuzzCosigTime, 0) })
		if err != nil {
			return
		}
		v := s.Verifier()
		if s.Name() != v.Name() || s.KeyHash() != v.KeyHash() {
			t.Fatalf("signer %s/%08x, verifier %s/%08x", s.Name(), s.KeyHash(), v.Name(), v.KeyHash())
		}
		v2, err := tiles.NewCosignatureVerifier(v.VKey())
		if err != nil || v2.VKey() != v.VKey() {
			t.Fatalf("NewCosignatureSigner(%q): verifier key %q does not parse back: %v", skey, v.VKey(), err)
		}
		sig, err := s.Sign([]byte(fuzzCP15))
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 72 || binary.BigEndian.Uint64(sig) != fuzzCosigTime || !v2.Verify([]byte(fuzzCP15), sig) {
			t.Fatalf("NewCosignatureSigner(%q): signature %x does not verify", skey, sig)
		}
	})
}

func FuzzCosignatureVerify(f *testing.F) {
	fx := fuzzFix(f)
	genuine := fx.w1.cosign([]byte(fuzzCP15), fuzzCosigTime)
	f.Add(genuine)
	f.Add(genuine[:71])
	f.Add(append(binary.BigEndian.AppendUint32(nil, fx.w1.id), genuine...))
	f.Add(append(binary.BigEndian.AppendUint64(nil, 1<<63), genuine[8:]...))
	f.Fuzz(func(t *testing.T, sig []byte) {
		fx := fuzzFix(t)
		v, err := tiles.NewCosignatureVerifier(fx.w1.vkey)
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte(fuzzCP15)
		ok := v.Verify(msg, sig)
		// Ed25519 signing is deterministic: for any timestamp there is one
		// signature the key makes, and nothing else may verify.
		want := len(sig) == 72 && binary.BigEndian.Uint64(sig) <= 1<<63-1 &&
			bytes.Equal(sig, fx.w1.cosign(msg, binary.BigEndian.Uint64(sig)))
		if ok != want {
			t.Fatalf("Verify(%x) = %v, want %v", sig, ok, want)
		}

		// CosignatureTime on the same bytes as a signature line value.
		line := note.Signature{Name: fx.w1.name, Hash: fx.w1.id, Base64: base64.StdEncoding.EncodeToString(append(binary.BigEndian.AppendUint32(nil, fx.w1.id), sig...))}
		ts, err := tiles.CosignatureTime(line)
		wantTS := len(sig) == 72 && binary.BigEndian.Uint64(sig) <= 1<<63-1
		if (err == nil) != wantTS {
			t.Fatalf("CosignatureTime(%x): err = %v, want ok = %v", sig, err, wantTS)
		}
		if err == nil && ts.Unix() != int64(binary.BigEndian.Uint64(sig)) {
			t.Fatalf("CosignatureTime(%x) = %v", sig, ts)
		}
		// And on the raw bytes as if they were the base64 text.
		if ts, err := tiles.CosignatureTime(note.Signature{Base64: string(sig)}); err == nil && ts.Unix() < 0 {
			t.Fatalf("CosignatureTime(%q) = %v, before 1970", sig, ts)
		}
	})
}

// fuzzCheckGroup checks that g and the groups below it are well-formed.
func fuzzCheckGroup(t *testing.T, p *tiles.Policy, g *tiles.Group, done map[*tiles.Group]bool) {
	if done[g] {
		return
	}
	done[g] = true
	members := len(g.Witnesses) + len(g.Groups)
	if g.Threshold < 1 || g.Threshold > members {
		t.Fatalf("group %q: threshold %d of %d members", g.Name, g.Threshold, members)
	}
	seen := map[any]bool{}
	for _, w := range g.Witnesses {
		if w == nil || seen[w] || !contains(p.Witnesses, w) {
			t.Fatalf("group %q: bad or repeated witness member %v", g.Name, w)
		}
		seen[w] = true
	}
	for _, sub := range g.Groups {
		if sub == nil || seen[sub] || sub == g {
			t.Fatalf("group %q: bad or repeated group member", g.Name)
		}
		seen[sub] = true
		fuzzCheckGroup(t, p, sub, done)
	}
}

func contains[T comparable](s []T, x T) bool {
	for _, y := range s {
		if x == y {
			return true
		}
	}
	return false
}

func FuzzParsePolicy(f *testing.F) {
	fx := fuzzFix(f)
	f.Add([]byte(fx.policyText))
	f.Add([]byte("quorum none\n"))
	f.Add([]byte("witness w1 " + fx.w1.vkey + "\nquorum w1\n"))
	f.Add([]byte("witness w1 " + fx.w1.vkey + "\ngroup g 0 w1\nquorum g\n"))
	f.Add([]byte("witness w1 " + fx.w1.vkey + "\nquorum w1\nquorum none\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := tiles.ParsePolicy(data)
		if err != nil {
			if p != nil {
				t.Fatalf("ParsePolicy failed (%v) but returned a policy", err)
			}
			return
		}
		rawKeys := map[string]bool{}
		claim := func(vkey string) {
			parts := strings.SplitN(vkey, "+", 3)
			if len(parts) != 3 {
				t.Fatalf("accepted vkey %q", vkey)
			}
			key, err := base64.StdEncoding.DecodeString(parts[2])
			if err != nil || len(key) < 1 {
				t.Fatalf("accepted vkey %q", vkey)
			}
			if rawKeys[string(key[1:])] {
				t.Fatalf("public key of %q used twice", vkey)
			}
			rawKeys[string(key[1:])] = true
		}
		for _, l := range p.Logs {
			v, err := note.NewVerifier(l.VKey)
			if l.Verifier == nil || err != nil || v.Name() != l.Verifier.Name() || v.KeyHash() != l.Verifier.KeyHash() {
				t.Fatalf("log %q: verifier does not match its vkey", l.VKey)
			}
			claim(l.VKey)
		}
		names := map[string]bool{}
		for _, w := range p.Witnesses {
			if w == nil || w.Verifier == nil || w.Name == "" || w.Name == "none" || names[w.Name] {
				t.Fatalf("bad or duplicate witness %+v", w)
			}
			names[w.Name] = true
			if v, err := tiles.NewCosignatureVerifier(w.Verifier.VKey()); err != nil || v.VKey() != w.Verifier.VKey() {
				t.Fatalf("witness %s: vkey %q does not round-trip: %v", w.Name, w.Verifier.VKey(), err)
			}
			claim(w.Verifier.VKey())
		}
		if p.Quorum != nil {
			fuzzCheckGroup(t, p, p.Quorum, map[*tiles.Group]bool{})
		}
		// Exactly one quorum line, and it says none iff Quorum is nil.
		var quorums []string
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
			if len(fields) > 0 && fields[0] == "quorum" {
				quorums = append(quorums, strings.Join(fields[1:], " "))
			}
		}
		if len(quorums) != 1 || (quorums[0] == "none") != (p.Quorum == nil) {
			t.Fatalf("quorum lines %q, parsed quorum %v", quorums, p.Quorum)
		}
	})
}

func FuzzParseProof(f *testing.F) {
	f.Add([]byte(tiles.ProofHeader + "\nindex 4\n" +
		"yiM+eia4w1wsk/Ukx7kF56IQVkDW3MWUaUz/VtJu+yU=\nnk9gCR+floFqznAPtqjjcnnV64dge2jQB95D5t164Hg=\n" +
		"zY1lN35vrXYAPixXSd59LsU29xUJtuW4o2dNNg5Y2Co=\n5jLpqTgjsBDSEX6SgZiRnbTMdTuRd8bQ5tSsAOxe0Ks=\n" +
		"\n" + fuzzCP15 + "\n" + fuzzCP15Sig + fuzzW1Line))
	f.Add([]byte(tiles.ProofHeader + "\nextra aGVsbG8=\nindex 0\n\n" + fuzzCP15 + "\n" + fuzzCP15Sig))
	f.Add([]byte(tiles.ProofHeader + "\nextra \nindex 0\n\n"))
	f.Add([]byte(tiles.ProofHeader + "\nindex 01\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := tiles.ParseProof(data)
		if err != nil {
			if !errors.Is(err, tiles.ErrMalformedProof) {
				t.Fatalf("ParseProof error %v does not wrap ErrMalformedProof", err)
			}
			return
		}
		if m := p.Marshal(); !bytes.Equal(m, data) {
			t.Fatalf("ParseProof(%q).Marshal() = %q", data, m)
		}
		if len(p.Hashes) > 64 {
			t.Fatalf("ParseProof accepted %d hashes", len(p.Hashes))
		}
		if p2, err := tiles.ParseProof(p.Marshal()); err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("ParseProof(Marshal()) = %+v, %v; want %+v", p2, err, p)
		}
	})
}

func FuzzPolicyVerify(f *testing.F) {
	fx := fuzzFix(f)
	w2 := fx.w2.line([]byte(fuzzCP15), fuzzCosigTime+60)
	f.Add([]byte(fuzzCP15 + "\n" + fuzzCP15Sig + fuzzW1Line + w2))
	f.Add([]byte(fuzzCP15 + "\n" + fuzzCP15Sig + fuzzW1Line))
	f.Add([]byte(fuzzCP15 + "\n" + fuzzCP15Sig + fuzzW1Line + fuzzW1Line))
	f.Add([]byte(fuzzCP15 + "\n" + fuzzCP15Sig + w2 + strings.Replace(fuzzW1Line, "oAWfEQAAAABk", "oAWfEQAAAABl", 1)))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fx := fuzzFix(t)
		sc, err := fx.policy.Verify(msg)
		_, _, openErr := tiles.OpenCheckpoint(msg, fx.logVerifier)
		if (sc != nil) != (openErr == nil) {
			t.Fatalf("Policy.Verify returned checkpoint %v with error %v, but OpenCheckpoint says %v", sc != nil, err, openErr)
		}
		if sc == nil {
			return
		}

		// Independently verify every cosignature line against the two witnesses.
		text, lines, ok := fuzzSigLines(msg)
		if !ok || !bytes.Equal(text, sc.Text) {
			t.Fatalf("Policy.Verify accepted %q, whose signature block is malformed", msg)
		}
		valid := map[string]time.Time{}
		invalid := map[string]bool{}
		for _, l := range lines {
			for _, w := range []struct {
				policyName string
				fuzzWitness
			}{{"w1", fx.w1}, {"w2", fx.w2}} {
				if l.name != w.name || binary.BigEndian.Uint32(l.raw) != w.id {
					continue
				}
				sig := l.raw[4:]
				ts := uint64(0)
				if len(sig) == 72 {
					ts = binary.BigEndian.Uint64(sig)
				}
				if len(sig) == 72 && ts <= 1<<63-1 && bytes.Equal(sig, w.cosign(text, ts)) {
					if _, seen := valid[w.policyName]; !seen {
						valid[w.policyName] = time.Unix(int64(ts), 0).UTC()
					}
				} else {
					invalid[w.policyName] = true
				}
			}
		}
		got := map[string]time.Time{}
		for _, c := range sc.Cosignatures {
			if _, dup := got[c.Witness]; dup {
				t.Fatalf("witness %s counted twice", c.Witness)
			}
			got[c.Witness] = c.Time
		}
		if !reflect.DeepEqual(got, valid) {
			t.Fatalf("Policy.Verify cosignatures %v, independently verified %v", got, valid)
		}
		gotInvalid := map[string]bool{}
		for _, w := range sc.Invalid {
			gotInvalid[w] = true
		}
		if !reflect.DeepEqual(gotInvalid, invalid) {
			t.Fatalf("Policy.Verify invalid %v, independently %v", gotInvalid, invalid)
		}
		quorumMet := len(valid) >= 2 // group both all w1 w2
		if err == nil && !quorumMet {
			t.Fatalf("Policy.Verify succeeded with %d valid cosignatures, quorum is 2", len(valid))
		}
		if err != nil && (quorumMet || !errors.Is(err, tiles.ErrQuorumNotMet)) {
			t.Fatalf("Policy.Verify: %v with %d valid cosignatures", err, len(valid))
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "15", "18446744073709551615", "18446744073709551616", "015", "+1", "-0", "", " 1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := tiles.ParseSize(s)
		if err != nil {
			return
		}
		if strconv.FormatUint(n, 10) != s {
			t.Fatalf("ParseSize(%q) = %d: not canonical decimal", s, n)
		}
	})
}

func FuzzParseLogs(f *testing.F) {
	f.Add([]byte("log " + fuzzLogVkey + "\n"))
	f.Add([]byte("# logs\nlog " + fuzzLogVkey + " https://example.com/log/testdata/\n\n\tlog\tPeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n"))
	f.Add([]byte("log " + fuzzLogVkey + "\nlog " + fuzzLogVkey + "\n"))
	f.Add([]byte("witness w1 " + fuzzW1Vkey + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		logs, err := tiles.ParseLogs(data)
		if err != nil {
			return
		}
		if len(logs) == 0 {
			t.Fatalf("ParseLogs(%q) returned no logs", data)
		}
		keys := map[string]bool{}
		for _, l := range logs {
			v, err := note.NewVerifier(l.VKey)
			if l.Verifier == nil || err != nil || v.Name() != l.Verifier.Name() || v.KeyHash() != l.Verifier.KeyHash() {
				t.Fatalf("log %q: verifier does not match its vkey", l.VKey)
			}
			for _, field := range []string{l.VKey, l.URL} {
				if strings.IndexFunc(field, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
					t.Fatalf("ParseLogs(%q) accepted a field with a space or control character: %q", data, field)
				}
			}
			if k := strings.SplitN(l.VKey, "+", 3)[2]; keys[k] {
				t.Fatalf("ParseLogs(%q) accepted key %q twice", data, k)
			} else {
				keys[k] = true
			}
		}
		// A log list is a policy with no witnesses and no quorum.
		p, err := tiles.ParsePolicy(append(bytes.Clone(data), "\nquorum none\n"...))
		if err != nil {
			t.Fatalf("ParseLogs accepted %q, but as a policy it fails: %v", data, err)
		}
		if len(p.Logs) != len(logs) {
			t.Fatalf("ParseLogs found %d logs, ParsePolicy %d", len(logs), len(p.Logs))
		}
		for i := range logs {
			if logs[i].VKey != p.Logs[i].VKey || logs[i].URL != p.Logs[i].URL {
				t.Fatalf("log %d: ParseLogs %q %q, ParsePolicy %q %q", i, logs[i].VKey, logs[i].URL, p.Logs[i].VKey, p.Logs[i].URL)
			}
		}
	})
}

// FuzzParsePruned: a Pruned document that parses has a minimum index that
// is a multiple of 256 and an archive with a location, and encodes to a
// document that parses to the same.
func FuzzParsePruned(f *testing.F) {
	for _, s := range []string{
		`{"minimum_index":512}`,
		`{"minimum_index":0}`,
		`{"minimum_index":256,"archive":{"location":"s3://b/p","size":300,"archived_at":"2026-12-03T10:00:00Z"}}`,
		`{"error":"tile/entries/000 is pruned: the minimum index is 512","status":"pruned","minimum_index":512,"archive":{"location":"file:///a","size":512,"archived_at":"2026-12-03T10:00:00.5+01:00"}}`,
		`{"minimum_index":100}`,
		`{"minimum_index":256,"archive":{}}`,
		`{"minimum_index":-256}`,
		`{"minimum_index":1e3}`,
		`null`,
		`[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := tiles.ParsePruned(data)
		if err != nil {
			return
		}
		if p.MinimumIndex%tiles.TileWidth != 0 || p.Archive != nil && p.Archive.Location == "" {
			t.Fatalf("ParsePruned(%q) = %+v", data, p)
		}
		enc, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", p, err)
		}
		q, err := tiles.ParsePruned(enc)
		if err != nil || q.MinimumIndex != p.MinimumIndex || (q.Archive == nil) != (p.Archive == nil) ||
			q.Archive != nil && (q.Archive.Location != p.Archive.Location || q.Archive.Size != p.Archive.Size || !q.Archive.ArchivedAt.Equal(p.Archive.ArchivedAt)) {
			t.Fatalf("ParsePruned(%s) = %+v, %v; want %+v", enc, q, err, p)
		}
	})
}
