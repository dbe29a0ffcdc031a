package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

type testServer struct {
	*httptest.Server
	l     *ledger.Ledger
	vkey  string
	store *posix.Storage
	dir   string // the log directory
}

func newTestServer(t *testing.T, limits event.Limits, maxBody int64) *testServer {
	dir := t.TempDir()
	store, err := posix.Open(t.Context(), posix.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, vkey := storagetest.NewSigner(t, "example.com/httpapi")
	l, err := ledger.New(t.Context(), ledger.Config{Storage: store, Keys: storagetest.NewMemoryKeys(), Signer: signer, KeyOf: event.KeyOf, PublishInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	api, err := httpapi.New(httpapi.Config{Ledger: l, Tiles: store, Limits: limits, MaxBodyBytes: maxBody})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, l: l, vkey: vkey, store: store, dir: dir}
}

func evJSON(id string, n int) string {
	idPart := ""
	if id != "" {
		idPart = fmt.Sprintf(`"id":%q,`, id)
	}
	return fmt.Sprintf(`{%s"action":"update","actor":{"id":"u%d","type":"user"},"resource":{"type":"doc","id":"d%d"},"result":"success","tags":{"api_key":"sk-123"}}`, idPart, n, n)
}

func (s *testServer) do(t *testing.T, method, path, contentType, body string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

type result struct {
	Index     uint64 `json:"index"`
	ID        string `json:"id"`
	LeafHash  string `json:"leaf_hash"`
	Duplicate bool   `json:"duplicate"`
}

func TestAppendForms(t *testing.T) {
	s := newTestServer(t, event.Limits{}, 0)
	code, _, body := s.do(t, "POST", "/v1/events", "application/json", evJSON("", 0))
	var one result
	if code != 200 || json.Unmarshal(body, &one) != nil || one.Index != 0 || one.ID == "" {
		t.Fatalf("single event: %d %s", code, body)
	}
	code, _, body = s.do(t, "POST", "/v1/events", "application/json", "["+evJSON("a", 1)+","+evJSON("b", 2)+"]")
	var arr []result
	if code != 200 || json.Unmarshal(body, &arr) != nil || len(arr) != 2 || arr[0].Index != 1 || arr[1].Index != 2 || arr[0].ID != "a" {
		t.Fatalf("array: %d %s", code, body)
	}
	code, _, body = s.do(t, "POST", "/v1/events?wait=published", "application/x-ndjson", evJSON("c", 3)+"\n\n"+evJSON("a", 1)+"\n")
	if code != 200 || json.Unmarshal(body, &arr) != nil || len(arr) != 2 || arr[0].Index != 3 || arr[1].Index != 1 || !arr[1].Duplicate {
		t.Fatalf("ndjson with a resubmitted id: %d %s", code, body)
	}
	if _, size := s.l.Published(); size < 4 {
		t.Fatalf("wait=published returned before size 4 was published (published %d)", size)
	}
	// The event comes back with its exact leaf bytes, redacted.
	code, _, body = s.do(t, "GET", "/v1/events/1", "", "")
	var got struct {
		Index uint64          `json:"index"`
		Event json.RawMessage `json:"event"`
		Leaf  []byte          `json:"leaf"`
	}
	if code != 200 || json.Unmarshal(body, &got) != nil {
		t.Fatalf("GET event: %d %s", code, body)
	}
	if h := tiles.LeafHash(got.Leaf); base64.StdEncoding.EncodeToString(h[:]) != arr[1].LeafHash {
		t.Fatalf("leaf of event 1 does not hash to the acknowledged leaf hash")
	}
	if bytes.Contains(got.Leaf, []byte("sk-123")) || bytes.Contains(got.Event, []byte("sk-123")) {
		t.Fatalf("a secret tag reached the log: %s", got.Leaf)
	}
}

func TestAppendRejects(t *testing.T) {
	s := newTestServer(t, event.Limits{MaxBatch: 5, MaxEventBytes: 2048}, 64<<10)
	big := strings.Replace(evJSON("", 0), `"result"`, `"reason":"`+strings.Repeat("x", 3000)+`","result"`, 1)
	for _, tc := range []struct {
		name, ctype, body, path string
		status                  int
		field                   string
	}{
		{"malformed JSON", "application/json", `{"action":`, "/v1/events", 400, ""},
		{"missing actor.id", "application/json", `{"action":"read","actor":{"type":"user"},"resource":{"type":"doc"},"result":"success"}`, "/v1/events", 400, "actor.id"},
		{"bad enum", "application/json", strings.Replace(evJSON("", 0), `"success"`, `"maybe"`, 1), "/v1/events", 400, "result"},
		{"unknown field", "application/json", strings.Replace(evJSON("", 0), `"result"`, `"colour":"red","result"`, 1), "/v1/events", 400, "colour"},
		{"one bad event sinks the batch", "application/json", "[" + evJSON("", 1) + "," + strings.Replace(evJSON("", 2), `"user"`, `"robot"`, 1) + "]", "/v1/events", 400, "actor.type"},
		{"too many events", "application/x-ndjson", strings.Repeat(evJSON("", 1)+"\n", 6), "/v1/events", 413, ""},
		{"event too large", "application/json", big, "/v1/events", 413, ""},
		{"body too large", "application/x-ndjson", strings.Repeat(" ", 70<<10), "/v1/events", 413, ""},
		{"bad wait", "application/json", evJSON("", 1), "/v1/events?wait=eventually", 400, "must be one of"},
		{"misspelt parameter", "application/json", evJSON("", 1), "/v1/events?wiat=published", 400, "wiat"},
		{"cosigned without witnesses", "application/json", evJSON("", 1), "/v1/events?wait=cosigned", 400, ""},
	} {
		code, hdr, body := s.do(t, "POST", tc.path, tc.ctype, tc.body)
		var e struct {
			Error   string `json:"error"`
			Details []struct {
				Field string `json:"field"`
			} `json:"details"`
		}
		if code != tc.status || hdr.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil || e.Error == "" {
			t.Errorf("%s: %d %s, want %d with a JSON error", tc.name, code, body, tc.status)
			continue
		}
		if tc.field != "" && !strings.Contains(string(body), tc.field) {
			t.Errorf("%s: error does not name %s: %s", tc.name, tc.field, body)
		}
	}
	if st := s.l.Committed(); st.Size != 0 {
		t.Fatalf("rejected requests appended %d entries", st.Size)
	}
}

// TestMethodNotAllowed checks that a 405 names the methods the path takes,
// in the Allow header and the JSON body, with the request id.
func TestMethodNotAllowed(t *testing.T) {
	s := newTestServer(t, event.Limits{}, 0)
	for path, allow := range map[string]string{"/checkpoint": "GET", "/v1/events": "GET, POST"} {
		code, hdr, body := s.do(t, "DELETE", path, "", "")
		var e struct {
			Error     string `json:"error"`
			RequestID string `json:"request_id"`
		}
		if code != http.StatusMethodNotAllowed || hdr.Get("Allow") != allow || json.Unmarshal(body, &e) != nil ||
			!strings.Contains(e.Error, "allowed: "+allow) || e.RequestID == "" || e.RequestID != hdr.Get("X-Request-Id") {
			t.Errorf("DELETE %s: %d, Allow %q, %s; want 405, Allow %q, and the request id", path, code, hdr.Get("Allow"), body, allow)
		}
	}
}

func TestReadAPI(t *testing.T) {
	s := newTestServer(t, event.Limits{}, 0)
	var body strings.Builder
	for i := range 300 {
		body.WriteString(evJSON("", i) + "\n")
	}
	if code, _, b := s.do(t, "POST", "/v1/events?wait=published", "application/x-ndjson", body.String()); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	code, hdr, cp := s.do(t, "GET", "/checkpoint", "", "")
	if code != 200 || hdr.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("checkpoint: %d %v", code, hdr)
	}
	policy, _ := tiles.NewLogPolicy(s.vkey)
	sc, err := policy.Verify(cp)
	if err != nil || sc.Size != 300 {
		t.Fatalf("published checkpoint: %v (size %d)", err, sc.Size)
	}
	code, hdr, _ = s.do(t, "GET", "/tile/0/000", "", "")
	if code != 200 || !strings.Contains(hdr.Get("Cache-Control"), "immutable") {
		t.Fatalf("full tile: %d %v", code, hdr)
	}
	for _, p := range []string{"/tile/0/001.p/45", "/tile/0/001", "/tile/1/000.p/2", "/tile/entries/002", "/tile/0/01", "/tile/64/000"} {
		if code, _, _ := s.do(t, "GET", p, "", ""); code != 404 {
			t.Errorf("%s: %d, want 404 (beyond the published tree or not a tile path)", p, code)
		}
	}
	// Bundles are gzipped for clients that ask.
	req, _ := http.NewRequest("GET", s.URL+"/tile/entries/001.p/44", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip bundle: %v %v", err, resp)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	resp.Body.Close()
	if _, err := tiles.ParseEntryBundle(raw, 44); err != nil {
		t.Fatalf("gzipped bundle: %v", err)
	}
	// Our own verifying client audits the log over HTTP.
	f, _ := tiles.NewHTTPFetcher(s.URL + "/")
	if err := tiles.Audit(t.Context(), f, sc.Checkpoint, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit over HTTP: %v", err)
	}
	// A proof file verifies offline, with the leaf it carries.
	code, _, pf := s.do(t, "GET", "/v1/proof/257", "", "")
	p, err := tiles.ParseProof(pf)
	if code != 200 || err != nil {
		t.Fatalf("proof: %d %v", code, err)
	}
	if _, err := p.Verify(policy, tiles.LeafHash(p.Extra)); err != nil || p.Index != 257 {
		t.Fatalf("proof of 257: %v", err)
	}
	for path, want := range map[string]int{"/v1/proof/300": 404, "/v1/events/300": 404, "/v1/events/x": 400, "/v1/events/01": 400, "/nope": 404} {
		if code, _, b := s.do(t, "GET", path, "", ""); code != want || !json.Valid(b) {
			t.Errorf("%s: %d %s, want %d with JSON", path, code, b, want)
		}
	}
	if code, _, b := s.do(t, "GET", "/healthz", "", ""); code != 200 || !strings.Contains(string(b), `"published_size":300`) {
		t.Errorf("healthz: %d %s", code, b)
	}
}

// TestTesseraClient has an independent C2SP client, tessera's, verify
// inclusion of random entries and consistency between checkpoints of our log
// over HTTP.
func TestTesseraClient(t *testing.T) {
	s := newTestServer(t, event.Limits{}, 0)
	ctx := t.Context()
	u, _ := url.Parse(s.URL + "/")
	fetcher, err := client.NewHTTPFetcher(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(s.vkey)
	var older []uint64
	var olderRoots [][]byte
	leafHashes := map[uint64][]byte{}
	for round := range 5 {
		var body strings.Builder
		for i := range 137 * (round + 1) {
			body.WriteString(evJSON("", i) + "\n")
		}
		code, _, b := s.do(t, "POST", "/v1/events?wait=published", "application/x-ndjson", body.String())
		var res []result
		if code != 200 || json.Unmarshal(b, &res) != nil {
			t.Fatalf("append: %d %s", code, b)
		}
		for _, r := range res {
			h, _ := base64.StdEncoding.DecodeString(r.LeafHash)
			leafHashes[r.Index] = h
		}
		cp, _, _, err := client.FetchCheckpoint(ctx, fetcher.ReadCheckpoint, v, "example.com/httpapi")
		if err != nil {
			t.Fatalf("tessera FetchCheckpoint: %v", err)
		}
		pb, err := client.NewProofBuilder(ctx, cp.Size, fetcher.ReadTile)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			i := rand.Uint64N(cp.Size)
			p, err := pb.InclusionProof(ctx, i)
			if err != nil {
				t.Fatalf("tessera inclusion proof %d: %v", i, err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.Size, leafHashes[i], p, cp.Hash); err != nil {
				t.Fatalf("tessera: inclusion of %d in %d: %v", i, cp.Size, err)
			}
		}
		for j, old := range older {
			p, err := pb.ConsistencyProof(ctx, old, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old, cp.Size, p, olderRoots[j], cp.Hash); err != nil {
				t.Fatalf("tessera: consistency %d -> %d: %v", old, cp.Size, err)
			}
		}
		older, olderRoots = append(older, cp.Size), append(olderRoots, cp.Hash)
	}
}

// TestIdempotencyPerTenant: an event id is an idempotency key within its
// tenant. Two tenants that choose the same id both get their event logged,
// also after a restart; a resubmission within a tenant is a duplicate.
func TestIdempotencyPerTenant(t *testing.T) {
	dir := t.TempDir()
	signer, _ := storagetest.NewSigner(t, "example.com/tenants")
	keys := storagetest.NewMemoryKeys() // kept across the restart, as a key index on disk is
	start := func() (*httptest.Server, func()) {
		store, err := posix.Open(t.Context(), posix.Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		l, err := ledger.New(t.Context(), ledger.Config{Storage: store, Keys: keys, Signer: signer, KeyOf: event.KeyOf, PublishInterval: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		api, err := httpapi.New(httpapi.Config{Ledger: l, Tiles: store})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(api)
		return srv, func() { srv.Close(); l.Close(context.Background()); store.Close() }
	}
	post := func(srv *httptest.Server, tenant string) result {
		t.Helper()
		body := strings.Replace(evJSON("order-7", 1), `"action"`, fmt.Sprintf(`"tenant_id":%q,"action"`, tenant), 1)
		resp, err := http.Post(srv.URL+"/v1/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r result
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
			t.Fatalf("append for tenant %s: %d %v", tenant, resp.StatusCode, err)
		}
		return r
	}
	srv, stop := start()
	a, b, again := post(srv, "a"), post(srv, "b"), post(srv, "a")
	if a.Duplicate || b.Duplicate || a.Index == b.Index || !again.Duplicate || again.Index != a.Index {
		t.Fatalf("tenant a %+v, tenant b %+v, a again %+v: want two entries and a duplicate", a, b, again)
	}
	stop()
	srv, stop = start() // the key index is rebuilt from the log
	defer stop()
	if ra, rb := post(srv, "a"), post(srv, "b"); !ra.Duplicate || ra.Index != a.Index || !rb.Duplicate || rb.Index != b.Index {
		t.Fatalf("after a restart: a %+v, b %+v, want the original entries as duplicates", ra, rb)
	}
}

// TestLeftoverPartialsRefused plants partial tiles and bundles of a width no
// committed state had (what a flush that died before its commit point
// leaves, here after the storage was opened) inside the published tree:
// they are answered 404, while the committed widths are served.
func TestLeftoverPartialsRefused(t *testing.T) {
	s := newTestServer(t, event.Limits{}, 0)
	for i, n := range []int{1, 2} {
		body := evJSON("", i)
		if n == 2 {
			body = "[" + evJSON("", 10) + "," + evJSON("", 11) + "]"
		}
		if code, _, b := s.do(t, "POST", "/v1/events?wait=published", "application/json", body); code != 200 {
			t.Fatalf("append: %d %s", code, b)
		}
	}
	// Committed widths: 1 and 3. Width 2 never was.
	bundle, _ := tiles.AppendEntry(nil, []byte("never acknowledged"))
	bundle, _ = tiles.AppendEntry(bundle, []byte("nor this"))
	plant := map[string][]byte{
		"tile/entries/000.p/2": bundle,
		"tile/0/000.p/2":       bytes.Repeat([]byte{7}, 2*tiles.HashSize),
	}
	for p, b := range plant {
		if err := os.WriteFile(filepath.Join(s.dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		path string
		want int
	}{{"/tile/entries/000.p/2", 404}, {"/tile/0/000.p/2", 404}, {"/tile/entries/000.p/1", 200}, {"/tile/0/000.p/1", 200},
		{"/tile/entries/000.p/3", 200}, {"/tile/0/000.p/3", 200}} {
		if code, _, b := s.do(t, "GET", c.path, "", ""); code != c.want {
			t.Errorf("GET %s: %d %s, want %d", c.path, code, b, c.want)
		}
	}
	// An empty file at a committed-looking width is not served either.
	if err := os.WriteFile(filepath.Join(s.dir, "tile/0/000.p/2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := s.do(t, "GET", "/tile/0/000.p/2", "", ""); code != 404 {
		t.Errorf("GET an empty planted tile/0/000.p/2: %d, want 404", code)
	}
}
