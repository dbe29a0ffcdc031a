package witness_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/ledger/witness"
	"github.com/ledger-dev/ledger/ledger/witness/witnesstest"
	"github.com/ledger-dev/ledger/tiles"
)

// testWitness is a witness with a file store behind real HTTP, whose log
// records are kept for inspection.
type testWitness struct {
	w      *witness.Witness
	v      *tiles.CosignatureVerifier
	url    string
	store  witness.Store
	logBuf *syncBuffer
}

func newTestWitness(t *testing.T, logs ...*witnesstest.Log) *testWitness {
	skey, _, err := tiles.GenerateCosignatureKey(nil, "witness.example.com/w1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tiles.NewCosignatureSigner(skey, func() time.Time { return time.Unix(1700000000, 0) })
	if err != nil {
		t.Fatal(err)
	}
	store, err := witness.OpenFileStore(t.Context(), witness.FileStoreConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var cfg []witness.Log
	for _, l := range logs {
		cfg = append(cfg, l.WitnessLog())
	}
	buf := &syncBuffer{}
	w, err := witness.New(witness.Config{Signer: signer, Logs: cfg, Store: store,
		Logger: slog.New(slog.NewJSONHandler(buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(witness.Handler(w))
	t.Cleanup(srv.Close)
	return &testWitness{w: w, v: signer.Verifier(), url: srv.URL, store: store, logBuf: buf}
}

// post sends an add-checkpoint body and returns the status, Content-Type
// and body of the answer.
func (tw *testWitness) post(t *testing.T, body []byte) (int, string, string) {
	t.Helper()
	resp, err := http.Post(tw.url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// monitored returns what the monitoring endpoint serves for origin.
func (tw *testWitness) monitored(t *testing.T, origin string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(tw.url + "/" + witness.OriginHash(origin) + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// records returns the witness's log records with the given message.
func (tw *testWitness) records(t *testing.T, msg string) []map[string]any {
	var out []map[string]any
	for _, line := range bytes.Split(tw.logBuf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// openCosigned checks that sigs are a cosignature by tw over cp and returns
// the cosigned note.
func (tw *testWitness) openCosigned(t *testing.T, log *witnesstest.Log, cp []byte, sigs string) *note.Note {
	t.Helper()
	n, err := note.Open(append(bytes.Clone(cp), sigs...), note.VerifierList(log.Verifier(), tw.v))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("cosigned checkpoint does not verify (%v): %q", err, sigs)
	}
	return n
}

// TestAddCheckpoint walks the tlog-witness rules through the HTTP handler,
// status code by status code.
func TestAddCheckpoint(t *testing.T) {
	log := witnesstest.NewLog(t, "example.com/log")
	other := witnesstest.NewLog(t, "example.com/other")
	forger := witnesstest.NewLog(t, log.Origin())
	fresh := witnesstest.NewLog(t, "example.com/fresh")
	fresh.Grow(5)
	tw := newTestWitness(t, log, fresh)

	if code, _ := tw.monitored(t, log.Origin()); code != http.StatusNotFound {
		t.Fatalf("monitoring before any cosignature: %d, want 404", code)
	}
	log.Grow(10)
	req10 := log.Request(t, 0, 10)
	code, _, body := tw.post(t, req10.Marshal())
	if code != http.StatusOK {
		t.Fatalf("first checkpoint: %d %s", code, body)
	}
	tw.openCosigned(t, log, req10.Checkpoint, body)

	log.Grow(300)
	forger.Grow(310)
	cases := []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"malformed", []byte("old x\n\n"), 400, `{"error":`},
		{"too many proof lines", []byte("old 1\n" + strings.Repeat(tiles.EmptyRoot.String()+"\n", 64) + "\n" + string(req10.Checkpoint)), 400, ""},
		{"too large", append([]byte("old 0\n\n"), bytes.Repeat([]byte("x"), tiles.MaxAddCheckpointSize)...), 400, ""},
		{"unknown origin", other.Request(t, 0, 0).Marshal(), 404, ""},
		{"not signed by the log", forger.Request(t, 10, 310).Marshal(), 403, ""},
		{"old greater than size", (&tiles.AddCheckpointRequest{OldSize: 400, Checkpoint: log.Checkpoint(t, 310)}).Marshal(), 400, ""},
		{"stale old size", log.Request(t, 5, 310).Marshal(), 409, "10\n"},
		{"bad proof", withProof(log.Request(t, 10, 310), tiles.EmptyRoot).Marshal(), 422, ""},
		{"proof from size 0", (&tiles.AddCheckpointRequest{OldSize: 0, Proof: []tiles.Hash{fresh.Root(1)}, Checkpoint: fresh.Checkpoint(t, 5)}).Marshal(), 422, ""},
		{"fork at the same size", (&tiles.AddCheckpointRequest{OldSize: 10, Checkpoint: log.Sign(t, tiles.Checkpoint{Origin: log.Origin(), Size: 10, Hash: tiles.EmptyRoot})}).Marshal(), 409, `{"error":`},
		{"size 0 without the empty root", (&tiles.AddCheckpointRequest{OldSize: 0, Checkpoint: log.Sign(t, tiles.Checkpoint{Origin: log.Origin(), Size: 0, Hash: log.Root(1)})}).Marshal(), 422, ""},
		{"consistent", log.Request(t, 10, 310).Marshal(), 200, "— witness.example.com/w1 "},
		{"same checkpoint again", log.Request(t, 310, 310).Marshal(), 200, "— witness.example.com/w1 "},
		{"rollback", (&tiles.AddCheckpointRequest{OldSize: 310, Checkpoint: req10.Checkpoint}).Marshal(), 400, ""},
	}
	for _, tc := range cases {
		code, ctype, body := tw.post(t, tc.body)
		if code != tc.status || !strings.HasPrefix(body, tc.want) {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, code, body, tc.status, tc.want)
		}
		if code == 409 && tc.want == "10\n" && ctype != "text/x.tlog.size" {
			t.Errorf("%s: Content-Type %q, want text/x.tlog.size", tc.name, ctype)
		}
		if code != 200 && code != 409 && ctype != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json", tc.name, ctype)
		}
	}
	// The monitoring endpoint serves the latest cosigned checkpoint, with
	// the log's signature and the witness's.
	code, b := tw.monitored(t, log.Origin())
	v, _ := note.NewVerifier(log.VKey)
	n, err := note.Open(b, note.VerifierList(v, tw.v))
	if code != 200 || err != nil || len(n.Sigs) != 2 || !strings.Contains(n.Text, "\n310\n") {
		t.Fatalf("monitoring checkpoint: %d %v %q", code, err, b)
	}
	if code, _ := tw.monitored(t, other.Origin()); code != http.StatusNotFound {
		t.Fatalf("monitoring an unknown log: %d, want 404", code)
	}
}

func withProof(r *tiles.AddCheckpointRequest, h tiles.Hash) *tiles.AddCheckpointRequest {
	r.Proof = append([]tiles.Hash{h}, r.Proof[1:]...)
	return r
}
