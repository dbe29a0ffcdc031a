package tiles_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// katInclusion4 is the inclusion proof of index 4 ("five") in the Tessera
// test log of size 15 (SPECS §9 C).
var katInclusion4 = []string{
	"yiM+eia4w1wsk/Ukx7kF56IQVkDW3MWUaUz/VtJu+yU=", "nk9gCR+floFqznAPtqjjcnnV64dge2jQB95D5t164Hg=",
	"zY1lN35vrXYAPixXSd59LsU29xUJtuW4o2dNNg5Y2Co=", "5jLpqTgjsBDSEX6SgZiRnbTMdTuRd8bQ5tSsAOxe0Ks=",
}

func mustParseHashes(t testing.TB, ss []string) []tiles.Hash {
	t.Helper()
	var hs []tiles.Hash
	for _, s := range ss {
		hs = append(hs, mustParseHash(t, s))
	}
	return hs
}

func TestProofRoundTrip(t *testing.T) {
	hashes := mustParseHashes(t, katInclusion4)
	var h64 []tiles.Hash
	var h64lines string
	for i := range 64 {
		h := hashes[i%4]
		h64 = append(h64, h)
		h64lines += h.String() + "\n"
	}
	for _, tc := range []struct {
		name  string
		proof tiles.Proof
		text  string
	}{
		{
			"without extra",
			tiles.Proof{Index: 4, Hashes: hashes, Checkpoint: []byte(katCP15Note)},
			"c2sp.org/tlog-proof@v1\nindex 4\n" + strings.Join(katInclusion4, "\n") + "\n\n" + katCP15Note,
		},
		{
			"with extra",
			tiles.Proof{Extra: []byte("extra\x00data\xff"), Index: 4, Hashes: hashes, Checkpoint: []byte(katCP15Note + katW1Line)},
			"c2sp.org/tlog-proof@v1\nextra ZXh0cmEAZGF0Yf8=\nindex 4\n" + strings.Join(katInclusion4, "\n") + "\n\n" + katCP15Note + katW1Line,
		},
		{
			"empty extra",
			tiles.Proof{Extra: []byte{}, Index: 0, Checkpoint: []byte(katCP15Note)},
			"c2sp.org/tlog-proof@v1\nextra \nindex 0\n\n" + katCP15Note,
		},
		{
			"no hashes",
			tiles.Proof{Index: 0, Checkpoint: []byte(katCP15Note)},
			"c2sp.org/tlog-proof@v1\nindex 0\n\n" + katCP15Note,
		},
		{
			"64 hashes",
			tiles.Proof{Index: 18446744073709551614, Hashes: h64, Checkpoint: []byte(katCP15Note)},
			"c2sp.org/tlog-proof@v1\nindex 18446744073709551614\n" + h64lines + "\n" + katCP15Note,
		},
	} {
		if got := string(tc.proof.Marshal()); got != tc.text {
			t.Errorf("%s: Marshal() = %q, want %q", tc.name, got, tc.text)
		}
		got, err := tiles.ParseProof([]byte(tc.text))
		if err != nil {
			t.Errorf("%s: ParseProof: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(*got, tc.proof) {
			t.Errorf("%s: ParseProof = %+v, want %+v", tc.name, *got, tc.proof)
		}
	}
}

func TestParseProofRejects(t *testing.T) {
	const head = "c2sp.org/tlog-proof@v1\n"
	hashes := strings.Join(katInclusion4, "\n") + "\n"
	var h65 string
	for i := range 65 {
		h65 += katInclusion4[i%4] + "\n"
	}
	for _, tc := range []struct{ name, text string }{
		{"empty", ""},
		{"bad header", "c2sp.org/tlog-proof@v2\nindex 4\n" + hashes + "\n" + katCP15Note},
		{"header case", "C2SP.org/tlog-proof@v1\nindex 4\n" + hashes + "\n" + katCP15Note},
		{"header with a space", " " + head + "index 4\n" + hashes + "\n" + katCP15Note},
		{"no header", "index 4\n" + hashes + "\n" + katCP15Note},
		{"no blank line", head + "index 4\n" + hashes + katCP15},
		{"no index line", head + "\n" + katCP15Note},
		{"index 01", head + "index 04\n" + hashes + "\n" + katCP15Note},
		{"index -1", head + "index -1\n" + hashes + "\n" + katCP15Note},
		{"index +4", head + "index +4\n" + hashes + "\n" + katCP15Note},
		{"empty index", head + "index \n" + hashes + "\n" + katCP15Note},
		{"index with a trailing space", head + "index 4 \n" + hashes + "\n" + katCP15Note},
		{"index with two spaces", head + "index  4\n" + hashes + "\n" + katCP15Note},
		{"Index", head + "Index 4\n" + hashes + "\n" + katCP15Note},
		{"index 2^64", head + "index 18446744073709551616\n" + hashes + "\n" + katCP15Note},
		{"index in hex", head + "index 0x4\n" + hashes + "\n" + katCP15Note},
		{"65 hashes", head + "index 4\n" + h65 + "\n" + katCP15Note},
		{"non-canonical hash", head + "index 4\n" + strings.Replace(hashes, "yiM+eia4w1wsk/Ukx7kF56IQVkDW3MWUaUz/VtJu+yU=", "yiM+eia4w1wsk/Ukx7kF56IQVkDW3MWUaUz/VtJu+yV=", 1) + "\n" + katCP15Note},
		{"hash without padding", head + "index 4\n" + strings.Replace(hashes, "+yU=", "+yU", 1) + "\n" + katCP15Note},
		{"hash of 31 bytes", head + "index 4\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383Q==\n\n" + katCP15Note},
		{"hash with a trailing space", head + "index 4\n" + katInclusion4[0] + " \n\n" + katCP15Note},
		{"hash in hex", head + "index 4\naca6c38a90af86e5f5199ee0e4105ef2c03a05b27b8daff59e4e36eefdfcddcb\n\n" + katCP15Note},
		{"extra not canonical", head + "extra ZXh0cmEAZGF0Yf9=\nindex 4\n" + hashes + "\n" + katCP15Note},
		{"extra not base64", head + "extra !!\nindex 4\n" + hashes + "\n" + katCP15Note},
		{"extra after index", head + "index 4\nextra ZXh0cmE=\n" + hashes + "\n" + katCP15Note},
		{"two extra lines", head + "extra ZXh0cmE=\nextra ZXh0cmE=\nindex 4\n" + hashes + "\n" + katCP15Note},
		{"two index lines", head + "index 4\nindex 4\n" + hashes + "\n" + katCP15Note},
		{"CRLF", strings.ReplaceAll(head+"index 4\n"+hashes+"\n", "\n", "\r\n") + katCP15Note},
		{"too long", head + "index 4\n" + hashes + "\n" + katCP15Note + strings.Repeat(katW1Line, (1<<17)/len(katW1Line)+100)},
	} {
		if p, err := tiles.ParseProof([]byte(tc.text)); err == nil {
			t.Errorf("%s: ParseProof = %+v, want an error", tc.name, p)
		} else if !errors.Is(err, tiles.ErrMalformedProof) {
			t.Errorf("%s: error %v does not wrap ErrMalformedProof", tc.name, err)
		}
	}
}

// TestProofVerify checks Verify's order: log signature, then the witness
// quorum, then inclusion.
func TestProofVerify(t *testing.T) {
	l := newPolicyLog(t, "example.com/proof")
	entries := testEntries(20)
	ref := newRefTreeOf(entries)
	text := string(tiles.Checkpoint{Origin: l.origin, Size: 20, Hash: ref.root(20)}.Marshal())
	a := newCosigner(t, "witness.example/a", 0x40, katCosigTime)
	b := newCosigner(t, "witness.example/b", 0x60, katCosigTime+1)
	policy, err := tiles.ParsePolicy([]byte("log " + l.vkey + "\nwitness A " + a.Verifier().VKey() + "\nwitness B " + b.Verifier().VKey() + "\ngroup both all A B\nquorum both\n"))
	if err != nil {
		t.Fatal(err)
	}
	otherLog := newPolicyLog(t, "example.com/proof")
	otherPolicy, err := tiles.NewLogPolicy(otherLog.vkey)
	if err != nil {
		t.Fatal(err)
	}
	full := l.sign(t, text, sigLines(t, text, a), sigLines(t, text, b))
	onlyA := l.sign(t, text, sigLines(t, text, a))
	good := ref.inclusion(6, 20)
	tampered := append([]tiles.Hash(nil), good...)
	tampered[2][31] ^= 1

	for _, tc := range []struct {
		name      string
		policy    *tiles.Policy
		proof     tiles.Proof
		leaf      tiles.Hash
		want      error // nil: success
		noCp      bool  // no checkpoint comes back
		notQuorum bool  // the error must not be mistakable for a quorum failure
	}{
		{"valid", policy, tiles.Proof{Index: 6, Hashes: good, Checkpoint: full}, ref.leaf(6), nil, false, false},
		{"valid with extra", policy, tiles.Proof{Extra: []byte("unauthenticated"), Index: 6, Hashes: good, Checkpoint: full}, ref.leaf(6), nil, false, false},
		{"unknown log", otherPolicy, tiles.Proof{Index: 6, Hashes: good, Checkpoint: full}, ref.leaf(6), tiles.ErrNoLogSignature, true, true},
		{"unknown log, bad inclusion", otherPolicy, tiles.Proof{Index: 6, Hashes: tampered, Checkpoint: full}, ref.leaf(7), tiles.ErrNoLogSignature, true, true},
		{"other log's checkpoint", policy, tiles.Proof{Index: 6, Hashes: good, Checkpoint: otherLog.sign(t, text, sigLines(t, text, a), sigLines(t, text, b))}, ref.leaf(6), tiles.ErrNoLogSignature, true, true},
		{"quorum not met", policy, tiles.Proof{Index: 6, Hashes: good, Checkpoint: onlyA}, ref.leaf(6), tiles.ErrQuorumNotMet, false, false},
		{"wrong leaf", policy, tiles.Proof{Index: 6, Hashes: good, Checkpoint: full}, ref.leaf(7), tiles.ErrProof, false, true},
		{"wrong index", policy, tiles.Proof{Index: 7, Hashes: good, Checkpoint: full}, ref.leaf(6), tiles.ErrProof, false, true},
		{"tampered proof", policy, tiles.Proof{Index: 6, Hashes: tampered, Checkpoint: full}, ref.leaf(6), tiles.ErrProof, false, true},
		{"short proof", policy, tiles.Proof{Index: 6, Hashes: good[:len(good)-1], Checkpoint: full}, ref.leaf(6), tiles.ErrProof, false, true},
		{"index beyond the checkpoint", policy, tiles.Proof{Index: 20, Hashes: good, Checkpoint: full}, ref.leaf(6), tiles.ErrProof, false, true},
		// Both fail: the inclusion failure wins, so a caller who tolerates
		// a missing quorum cannot accept an entry that is not in the log.
		{"quorum not met, bad inclusion", policy, tiles.Proof{Index: 6, Hashes: tampered, Checkpoint: onlyA}, ref.leaf(6), tiles.ErrProof, false, true},
	} {
		// Every proof goes through its file format first.
		p, err := tiles.ParseProof(tc.proof.Marshal())
		if err != nil {
			t.Fatalf("%s: ParseProof: %v", tc.name, err)
		}
		sc, err := p.Verify(tc.policy, tc.leaf)
		if tc.want == nil {
			if err != nil || sc == nil || sc.Size != 20 || sc.Hash != ref.root(20) || len(sc.Cosignatures) != 2 {
				t.Errorf("%s: Verify = %+v, %v", tc.name, sc, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify error %v, want %v", tc.name, err, tc.want)
		}
		if tc.notQuorum && errors.Is(err, tiles.ErrQuorumNotMet) {
			t.Errorf("%s: Verify error %v wraps ErrQuorumNotMet", tc.name, err)
		}
		if (sc == nil) != tc.noCp {
			t.Errorf("%s: Verify returned checkpoint %v, want one: %v", tc.name, sc, !tc.noCp)
		}
	}

	// Every index of the tree proves.
	for i := range uint64(20) {
		p := &tiles.Proof{Index: i, Hashes: ref.inclusion(i, 20), Checkpoint: full}
		if _, err := p.Verify(policy, tiles.LeafHash(entries[i])); err != nil {
			t.Errorf("index %d: %v", i, err)
		}
	}
}

// TestProofVerifyKnownAnswer verifies a tlog-proof for "five" in the
// Tessera test log, cosigned by witness w1 (SPECS §9 C and D).
func TestProofVerifyKnownAnswer(t *testing.T) {
	text := "c2sp.org/tlog-proof@v1\nindex 4\n" + strings.Join(katInclusion4, "\n") + "\n\n" + katCP15Note + katW1Line
	p, err := tiles.ParseProof([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	policy, err := tiles.ParsePolicy([]byte("log " + katTesseraVkey + "\nwitness w1 " + katW1Vkey + "\nquorum w1\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := p.Verify(policy, tiles.LeafHash([]byte("five")))
	if err != nil {
		t.Fatal(err)
	}
	want := []tiles.Cosignature{{Witness: "w1", KeyName: katW1Name, Time: time.Unix(katCosigTime, 0).UTC()}}
	if sc.Size != 15 || sc.Hash.String() != katRoot15 || !reflect.DeepEqual(sc.Cosignatures, want) {
		t.Errorf("Verify = %+v", sc)
	}
	if _, err := p.Verify(policy, tiles.LeafHash([]byte("four"))); !errors.Is(err, tiles.ErrProof) {
		t.Errorf("Verify(four) = %v, want ErrProof", err)
	}
}
