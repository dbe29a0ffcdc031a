package console

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/internal/browsertest"
	"github.com/ledger-dev/ledger/tiles"
	"github.com/ledger-dev/ledger/tiles/tilestest"
)

// dirTiles reads a tilestest log's tiles from its directory.
type dirTiles struct{ f tiles.DirFetcher }

func (d dirTiles) ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error) {
	return d.f.Fetch(ctx, t.Path())
}

// vectors are what the Go tiles package computes for one log, and what the
// page must compute alike.
type vectors struct {
	Sizes       []uint64            `json:"sizes"`
	Roots       []string            `json:"roots"`
	Leaves      map[uint64]string   `json:"leaves"`      // index → entry, base64
	LeafHashes  map[uint64]string   `json:"leaf_hashes"` // index → leaf hash
	Inclusion   map[string][]string `json:"inclusion"`   // "index/size" → proof
	Consistency map[string][]string `json:"consistency"` // "old/size" → proof
	Checkpoint  string              `json:"checkpoint"`  // the last one, cosigned by w1
	Policy      string              `json:"policy"`
	OtherPolicy string              `json:"other_policy"` // same log, a witness that did not sign
}

func makeVectors(t *testing.T, dir string) vectors {
	t.Helper()
	ctx := context.Background()
	signer, vkey := tilestest.NewKey("example.com/console-vectors")
	l := tilestest.New(dir, signer)
	r := tiles.HashTiles(dirTiles{tiles.DirFetcher(dir)})
	v := vectors{Leaves: map[uint64]string{}, LeafHashes: map[uint64]string{}, Inclusion: map[string][]string{}, Consistency: map[string][]string{}}
	var cp []byte
	for _, size := range []uint64{1, 2, 3, 7, 8, 255, 256, 257, 1000, 65536 + 300} {
		var err error
		if cp, err = l.AppendFunc(size-l.Size(), tilestest.Entry); err != nil {
			t.Fatal(err)
		}
		root := l.Root()
		v.Sizes, v.Roots = append(v.Sizes, size), append(v.Roots, b64(root[:]))
	}
	last := v.Sizes[len(v.Sizes)-1]
	for _, n := range v.Sizes {
		for _, i := range []uint64{0, n / 2, n - 1, 255, 256, 65535} {
			if i >= n {
				continue
			}
			p, err := tiles.InclusionProof(ctx, r, i, n)
			if err != nil {
				t.Fatal(err)
			}
			v.Inclusion[fmt.Sprintf("%d/%d", i, n)] = hashes(p)
			e := tilestest.Entry(i)
			h := tiles.LeafHash(e)
			v.Leaves[i], v.LeafHashes[i] = b64(e), b64(h[:])
		}
		for _, m := range v.Sizes {
			if m > n {
				continue
			}
			p, err := tiles.ConsistencyProof(ctx, r, m, n)
			if err != nil {
				t.Fatal(err)
			}
			v.Consistency[fmt.Sprintf("%d/%d", m, n)] = hashes(p)
		}
	}
	// Cosign the last checkpoint with w1; w2 signs nothing.
	skey1, wvkey1, err := tiles.GenerateCosignatureKey(rand.Reader, "w1.example.com")
	if err != nil {
		t.Fatal(err)
	}
	_, wvkey2, err := tiles.GenerateCosignatureKey(rand.Reader, "w2.example.com")
	if err != nil {
		t.Fatal(err)
	}
	cosigner, err := tiles.NewCosignatureSigner(skey1, func() time.Time { return time.Unix(1767225600, 0) })
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := strings.Cut(string(cp), "\n\n")
	signed, err := note.Sign(&note.Note{Text: body + "\n"}, signer, cosigner)
	if err != nil {
		t.Fatal(err)
	}
	v.Checkpoint = string(signed)
	logVerifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tiles.OpenCheckpoint(signed, logVerifier); err != nil {
		t.Fatalf("the vectors' checkpoint does not verify in Go: %v", err)
	}
	v.Policy = fmt.Sprintf("log %s\nwitness w1 %s\nwitness w2 %s\ngroup g 1 w1 w2\nquorum g\n", vkey, wvkey1, wvkey2)
	v.OtherPolicy = fmt.Sprintf("log %s\nwitness w2 %s\nquorum w2\n", vkey, wvkey2)
	if last != l.Size() {
		t.Fatal("bad size bookkeeping")
	}
	return v
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func hashes(p []tiles.Hash) []string {
	out := make([]string, len(p))
	for i, h := range p {
		out[i] = b64(h[:])
	}
	return out
}

// computeJS is run in the page: it computes with verify.js what the Go
// vectors hold, and checks the checkpoint's signatures.
const computeJS = `(async (vec) => {
  const v = await import("/console/verify.js");
  const api = await import("/console/api.js");
  const e = (h) => v.b64.encode(h);
  const d = (s) => v.b64.decode(s);
  const out = { leaf_hashes: {}, inclusion: {}, consistency: {}, verified_inclusion: {}, verified_consistency: {}, bad_consistency: {} };
  for (const [i, leaf] of Object.entries(vec.leaves)) out.leaf_hashes[i] = e(await v.leafHash(d(leaf)));
  const root = (n) => d(vec.roots[vec.sizes.indexOf(n)]);
  for (const [key, proof] of Object.entries(vec.inclusion)) {
    const [i, n] = key.split("/").map(Number);
    out.inclusion[key] = (await new v.TileHashes(n, api.getBytes).inclusion(i)).map(e);
    const r = await v.rootFromInclusion(d(vec.leaf_hashes[i]), i, n, proof.map(d));
    out.verified_inclusion[key] = v.equal(r, root(n));
  }
  for (const [key, proof] of Object.entries(vec.consistency)) {
    const [m, n] = key.split("/").map(Number);
    out.consistency[key] = (await new v.TileHashes(n, api.getBytes).consistency(m)).map(e);
    out.verified_consistency[key] = await v.verifyConsistency(m, root(m), n, root(n), proof.map(d));
    if (m < n && m > 0) {
      const wrong = root(n).slice(); wrong[0] ^= 1;
      out.bad_consistency[key] = await v.verifyConsistency(m, root(m), n, wrong, proof.map(d));
    }
  }
  const check = async (text, policy) => (await v.verifyCheckpointSignatures(text, await v.parsePolicy(policy))).lines;
  out.good = await check(vec.checkpoint, vec.policy);
  const lines = vec.checkpoint.split("\n");
  lines[2] = e(new Uint8Array(32));
  out.altered = await check(lines.join("\n"), vec.policy);
  out.other = await check(vec.checkpoint, vec.other_policy);
  out.vkey_only = await check(vec.checkpoint, vec.policy.split("\n")[0].slice(4));
  out.not_a_note = await check("hello\n", vec.policy);
  const refused = async (f) => { try { await f(); return "accepted"; } catch (e) { return e.message; } };
  const vkey = vec.policy.split("\n")[0].slice(4);
  out.refused = {
    "vkey with another key ID": await refused(() => v.parseVkey(vkey.replace(/\+[0-9a-f]{8}\+/, "+00000000+"), v.LOG_KEY)),
    "witness vkey as a log key": await refused(() => v.parseVkey(vec.policy.split("\n")[1].split(" ")[2], v.LOG_KEY)),
    "policy without quorum": await refused(() => v.parsePolicy("log " + vkey + "\n")),
    "policy with an undefined member": await refused(() => v.parsePolicy("log " + vkey + "\ngroup g 1 w9\nquorum g\n")),
    "proof without index": await refused(async () => v.parseProof("c2sp.org/tlog-proof@v1\n\n" + vec.checkpoint)),
    "proof with a short hash": await refused(async () => v.parseProof("c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n" + vec.checkpoint)),
    "inclusion proof too long": await refused(() => v.rootFromInclusion(new Uint8Array(32), 0, 1, [new Uint8Array(32)])),
  };
  return JSON.stringify(out);
})`

type line struct{ Check, Status, Detail string }

// TestVerifyJSMatchesGo runs verify.js in headless Chromium over a log
// written by tilestest and served over HTTP, and compares its leaf hashes,
// inclusion and consistency proofs (built from the tiles) and its proof and
// signature checks with the Go tiles package's; malformed keys, policies
// and proofs must be refused.
func TestVerifyJSMatchesGo(t *testing.T) {
	dir := t.TempDir()
	vec := makeVectors(t, dir)
	web, err := New(Config{VKey: strings.Fields(vec.Policy)[1]})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, web)
	mux.Handle("/", http.FileServer(http.Dir(dir)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := browsertest.New(t, 40*time.Second)
	in, _ := json.Marshal(vec)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+Path+"#/trust")); err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[string](computeJS+"("+string(in)+")", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		LeafHashes          map[uint64]string   `json:"leaf_hashes"`
		Inclusion           map[string][]string `json:"inclusion"`
		Consistency         map[string][]string `json:"consistency"`
		VerifiedInclusion   map[string]bool     `json:"verified_inclusion"`
		VerifiedConsistency map[string]*string  `json:"verified_consistency"`
		BadConsistency      map[string]*string  `json:"bad_consistency"`
		Good, Altered       []line
		Other               []line
		VKeyOnly            []line `json:"vkey_only"`
		NotANote            []line `json:"not_a_note"`
		Refused             map[string]string
	}
	if err := json.Unmarshal([]byte(res), &got); err != nil {
		t.Fatal(err)
	}
	for i, h := range vec.LeafHashes {
		if got.LeafHashes[i] != h {
			t.Errorf("leaf hash of entry %d: JS %s, Go %s", i, got.LeafHashes[i], h)
		}
	}
	for k, p := range vec.Inclusion {
		if !slices.Equal(got.Inclusion[k], p) {
			t.Errorf("inclusion proof %s from tiles: JS %v, Go %v", k, got.Inclusion[k], p)
		}
		if !got.VerifiedInclusion[k] {
			t.Errorf("inclusion proof %s of Go does not verify in JS", k)
		}
	}
	for k, p := range vec.Consistency {
		if !slices.Equal(got.Consistency[k], p) {
			t.Errorf("consistency proof %s from tiles: JS %v, Go %v", k, got.Consistency[k], p)
		}
		if e := got.VerifiedConsistency[k]; e != nil {
			t.Errorf("consistency proof %s of Go does not verify in JS: %s", k, *e)
		}
	}
	t.Logf("checked %d inclusion and %d consistency proofs", len(got.Inclusion), len(got.Consistency))
	if len(got.BadConsistency) == 0 {
		t.Error("no consistency proof was checked against a wrong root")
	}
	for k, e := range got.BadConsistency {
		if e == nil {
			t.Errorf("consistency proof %s verifies against a wrong root", k)
		}
	}
	status := func(lines []line) string {
		var s []string
		for _, l := range lines {
			s = append(s, l.Check+"="+l.Status)
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		name  string
		lines []line
		want  string
	}{
		{"cosigned checkpoint", got.Good, "checkpoint signature=ok witness w1=ok witness w2=info quorum=ok"},
		{"altered root", got.Altered, "checkpoint signature=fail witness w1=fail witness w2=info quorum=fail"},
		{"quorum of a witness that did not sign", got.Other, "checkpoint signature=ok witness w2=info quorum=fail"},
		{"vkey only", got.VKeyOnly, "checkpoint signature=ok quorum=ok"},
	} {
		if s := status(c.lines); s != c.want {
			t.Errorf("%s: JS says %s, want %s (%v)", c.name, s, c.want, c.lines)
		}
	}
	if len(got.NotANote) != 1 || got.NotANote[0].Status != "fail" {
		t.Errorf("a checkpoint that is not a note: %v, want one failing line", got.NotANote)
	}
	if len(got.Refused) != 7 {
		t.Errorf("refusals: %v", got.Refused)
	}
	for what, msg := range got.Refused {
		if msg == "accepted" {
			t.Errorf("verify.js accepted a %s", what)
		}
	}
	if d := got.Good[1].Detail; !strings.Contains(d, "2026-01-01T00:00:00Z") {
		t.Errorf("witness line %q does not give the cosignature's time", d)
	}
}
