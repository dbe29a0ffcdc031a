package witness_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/ledger/witness"
	"github.com/ledger-dev/ledger/tiles"
)

// testLog is an in-memory log that can sign checkpoints and prove consistency.
type testLog struct {
	signer note.Signer
	vkey   string
	b      *tiles.Builder
	tiles  map[tiles.Tile][]tiles.Hash
}

func newTestLog(t *testing.T, origin string) *testLog {
	skey, vkey, err := note.GenerateKey(nil, origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	b, _ := tiles.NewBuilder(t.Context(), 0, nil)
	return &testLog{signer: signer, vkey: vkey, b: b, tiles: map[tiles.Tile][]tiles.Hash{}}
}

func (l *testLog) ReadTile(_ context.Context, t tiles.Tile) ([]tiles.Hash, error) {
	hs, ok := l.tiles[t]
	if !ok {
		return nil, fmt.Errorf("no tile %s", t.Path())
	}
	return hs, nil
}

func (l *testLog) grow(n int) {
	for range n {
		l.b.Append(tiles.LeafHash([]byte(fmt.Sprint(l.b.Size()))), func(t tiles.Tile, hs []tiles.Hash) {
			l.tiles[t] = append([]tiles.Hash(nil), hs...)
		})
	}
	for t, hs := range l.b.Edge() {
		l.tiles[t] = hs
	}
}

func (l *testLog) checkpoint(t *testing.T, size uint64, root tiles.Hash) []byte {
	cp, err := note.Sign(&note.Note{Text: string(tiles.Checkpoint{Origin: l.signer.Name(), Size: size, Hash: root}.Marshal())}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func (l *testLog) request(t *testing.T, old uint64) *witness.Request {
	proof, err := tiles.ConsistencyProof(t.Context(), l, old, l.b.Size())
	if err != nil {
		t.Fatal(err)
	}
	return &witness.Request{OldSize: old, Proof: proof, Checkpoint: l.checkpoint(t, l.b.Size(), l.b.Root())}
}

func newWitness(t *testing.T, store witness.Store, logs ...*testLog) (*witness.Witness, *tiles.CosignatureVerifier) {
	skey, _, err := tiles.GenerateCosignatureKey(nil, "witness.example.com/w1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tiles.NewCosignatureSigner(skey, func() time.Time { return time.Unix(1700000000, 0) })
	if err != nil {
		t.Fatal(err)
	}
	var cfg []witness.Log
	for _, l := range logs {
		v, _ := note.NewVerifier(l.vkey)
		cfg = append(cfg, witness.Log{Origin: l.signer.Name(), Verifier: v})
	}
	w, err := witness.New(witness.Config{Signer: signer, Logs: cfg, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return w, signer.Verifier()
}

// TestAddCheckpoint walks the tlog-witness rules through the HTTP handler,
// status code by status code.
func TestAddCheckpoint(t *testing.T) {
	store, err := witness.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := newTestLog(t, "example.com/log")
	other := newTestLog(t, "example.com/other")
	w, wv := newWitness(t, store, log)
	srv := httptest.NewServer(witness.Handler(w))
	defer srv.Close()
	post := func(body []byte) (int, string, string) {
		resp, err := http.Post(srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}

	log.grow(10)
	req10 := log.request(t, 0)
	if code, _, body := post(req10.Marshal()); code != 200 {
		t.Fatalf("first checkpoint: %d %s", code, body)
	} else {
		// The response is a cosignature line that verifies over the checkpoint.
		full := append(bytes.Clone(req10.Checkpoint), body...)
		v, _ := note.NewVerifier(log.vkey)
		n, err := note.Open(full, note.VerifierList(v, wv))
		if err != nil || len(n.Sigs) != 2 {
			t.Fatalf("cosigned checkpoint does not verify: %v", err)
		}
	}
	log.grow(300)
	cases := []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"malformed", []byte("old x\n\n"), 400, ""},
		{"too many proof lines", []byte("old 1\n" + strings.Repeat(tiles.EmptyRoot.String()+"\n", 64) + "\n" + string(req10.Checkpoint)), 400, ""},
		{"unknown origin", (&witness.Request{OldSize: 10, Checkpoint: other.checkpoint(t, 0, tiles.EmptyRoot)}).Marshal(), 404, ""},
		{"not signed by the log", (&witness.Request{OldSize: 10, Checkpoint: forge(t, log.signer.Name(), 310, log.b.Root())}).Marshal(), 403, ""},
		{"old greater than size", (&witness.Request{OldSize: 400, Checkpoint: log.checkpoint(t, 310, log.b.Root())}).Marshal(), 400, ""},
		{"stale old size", log.request(t, 5).Marshal(), 409, "10\n"},
		{"bad proof", withProof(log.request(t, 10), tiles.EmptyRoot).Marshal(), 422, ""},
		{"fork at the same size", (&witness.Request{OldSize: 10, Checkpoint: log.checkpoint(t, 10, tiles.EmptyRoot)}).Marshal(), 409, ""},
		{"consistent", log.request(t, 10).Marshal(), 200, "— witness.example.com/w1 "},
		{"rollback", (&witness.Request{OldSize: 310, Checkpoint: req10.Checkpoint}).Marshal(), 400, ""},
	}
	for _, tc := range cases {
		code, ctype, body := post(tc.body)
		if code != tc.status || !strings.HasPrefix(body, tc.want) {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, code, body, tc.status, tc.want)
		}
		if code == 409 && tc.want != "" && ctype != "text/x.tlog.size" {
			t.Errorf("%s: Content-Type %q, want text/x.tlog.size", tc.name, ctype)
		}
	}
	// The monitoring endpoint serves the latest cosigned checkpoint.
	resp, err := http.Get(srv.URL + "/" + sha256hex(log.signer.Name()) + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	v, _ := note.NewVerifier(log.vkey)
	n, err := note.Open(b, note.VerifierList(v, wv))
	if err != nil || len(n.Sigs) != 2 || !strings.Contains(n.Text, "\n310\n") {
		t.Fatalf("monitoring checkpoint: %v %q", err, b)
	}
}

func withProof(r *witness.Request, h tiles.Hash) *witness.Request {
	r.Proof = append([]tiles.Hash{h}, r.Proof[1:]...)
	return r
}

// forge signs a checkpoint for origin with another log's key.
func forge(t *testing.T, origin string, size uint64, root tiles.Hash) []byte {
	skey, _, _ := note.GenerateKey(nil, origin)
	s, _ := note.NewSigner(skey)
	cp, err := note.Sign(&note.Note{Text: string(tiles.Checkpoint{Origin: origin, Size: size, Hash: root}.Marshal())}, s)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestParseRequestRejects(t *testing.T) {
	for _, body := range []string{"", "old 1\n", "old 01\n\ncp\n", "old -1\n\ncp\n", "new 1\n\ncp\n", "old 1\nnot-a-hash\n\ncp\n"} {
		if _, err := witness.ParseRequest([]byte(body)); !errors.Is(err, witness.ErrBadRequest) {
			t.Errorf("ParseRequest(%q) = %v, want ErrBadRequest", body, err)
		}
	}
}
