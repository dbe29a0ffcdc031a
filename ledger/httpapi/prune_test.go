package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/prune"
	"github.com/ledger-dev/ledger/ledger/retention"
	"github.com/ledger-dev/ledger/tiles"

	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
)

// withPruner configures a prune.Runner over the server's own storage and
// index, judging periods a year after queryNow.
func withPruner(t testing.TB, policy *retention.Policy) func(*httpapi.Config) {
	return func(c *httpapi.Config) {
		store := c.Tiles.(prune.Storage)
		c.Pruned = store
		holds := c.Holds
		if holds == nil {
			holds = hold.Open(filepath.Join(t.TempDir(), hold.FileName))
		}
		pipeline := event.NewPipeline(event.PipelineConfig{})
		l := c.Ledger
		r, err := prune.New(prune.Config{Storage: store, Index: c.Index.(prune.Index), Policy: policy, Holds: holds.List,
			StateFile: filepath.Join(t.TempDir(), "prune.json"), Now: func() time.Time { return queryNow.AddDate(1, 0, 0) },
			Append: func(ctx context.Context, e *event.Event) error {
				prepared, err := pipeline.PrepareOwn(e)
				if err != nil {
					return err
				}
				_, err = l.Append(ctx, []ledger.Entry{{Key: prepared[0].Key, Leaf: prepared[0].Leaf}})
				return err
			}})
		if err != nil {
			t.Fatal(err)
		}
		c.Prune = r
	}
}

// TestPrunedAnswers prunes a log of 300 events to 256 through POST
// /v1/admin/prune and checks what readers see: GET /pruned.json, 410 with
// the pruned document for the pruned bundle and for the events and proofs
// in it, the rest served as before (the hash tiles among them), and the
// query index without the pruned rows. Every JSON answer is checked
// against the OpenAPI document.
func TestPrunedAnswers(t *testing.T) {
	day, _ := retention.ParsePeriod("1d")
	policy, err := retention.New([]retention.Rule{{Min: day}})
	if err != nil {
		t.Fatal(err)
	}
	s := newAccessServer(t, withPruner(t, policy))
	v := newResponseValidator(t, s)
	lines := make([]string, 298) // and the two of newAccessServer
	for i := range lines {
		lines[i] = tenantEvent("b", fmt.Sprintf("prune-%d", i))
	}
	if code, _, b := s.call(t, writerAny, "POST", "/v1/events?wait=published", strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	if _, err := s.follower.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	code, _, b := s.call(t, none, "GET", "/pruned.json", "")
	if code != 200 || strings.TrimSpace(string(b)) != `{"minimum_index":0}` {
		t.Fatalf("GET /pruned.json of a log never pruned: %d %s", code, b)
	}
	// A dry run changes nothing; then the hold of newAccessServer (tenant
	// a, entry 0) stops the edge at 0.
	code, _, b = s.call(t, adm, "POST", "/v1/admin/prune", `{"dry_run":true}`)
	var res prune.Result
	if err := json.Unmarshal(b, &res); code != 200 || err != nil || !res.DryRun || res.MinimumIndex != 0 || !strings.Contains(res.Stop, "legal hold "+s.victimHold) {
		t.Fatalf("dry run: %d %s", code, b)
	}
	v.check(t, adm, "POST", "/v1/admin/prune", `{"dry_run":true}`)
	if code, _, b := s.call(t, adm, "DELETE", "/v1/admin/holds/"+s.victimHold, ""); code != 200 {
		t.Fatalf("release: %d %s", code, b)
	}
	code, _, b = s.call(t, adm, "POST", "/v1/admin/prune", "")
	res = prune.Result{}
	if err := json.Unmarshal(b, &res); code != 200 || err != nil || res.DryRun || res.MinimumIndex != 256 || res.Entries != 256 || res.Pruned.MinimumIndex != 256 {
		t.Fatalf("prune: %d %s", code, b)
	}
	if code, _, b := s.call(t, auditor, "POST", "/v1/admin/prune", ""); code != 403 {
		t.Fatalf("prune by an auditor: %d %s, want 403", code, b)
	}

	for _, path := range []string{"/tile/entries/000", "/v1/events/5", "/v1/proof/5", "/tile/entries/000.p/2"} {
		code, h, b := s.call(t, auditor, "GET", path, "")
		var body struct {
			tiles.Pruned
			Status, Error string
		}
		if err := json.Unmarshal(b, &body); code != 410 || err != nil || h.Get("Content-Type") != "application/json" ||
			body.Status != "pruned" || body.MinimumIndex != 256 || !strings.Contains(body.Error, "is pruned: the minimum index is 256") {
			t.Errorf("GET %s: %d %s %s, want 410 with the pruned document", path, code, h.Get("Content-Type"), b)
		}
		if p, err := tiles.ParsePruned(b); err != nil || p.MinimumIndex != 256 {
			t.Errorf("GET %s: the body does not parse as a pruned document: %v", path, err)
		}
		if !strings.HasPrefix(path, "/tile/") {
			v.check(t, auditor, "GET", path, "")
		}
	}
	for _, path := range []string{"/v1/events/260", "/v1/proof/260", "/tile/0/000", "/tile/entries/001.p/44"} {
		if code, _, b := s.call(t, auditor, "GET", path, ""); code != 200 {
			t.Errorf("GET %s, which stays: %d %s", path, code, b)
		}
	}
	v.check(t, none, "GET", "/pruned.json", "")
	code, _, b = s.call(t, none, "GET", "/pruned.json", "")
	if code != 200 || strings.TrimSpace(string(b)) != `{"minimum_index":256}` {
		t.Fatalf("GET /pruned.json: %d %s", code, b)
	}
	rows, err := s.idx.Query(t.Context(), indexAll())
	if err != nil || len(rows) == 0 || rows[0].Index != 256 {
		t.Fatalf("the query index's first row after the prune: %v (%d rows), want 256", err, len(rows))
	}
	// The run logged itself.
	rows, err = s.idx.Query(t.Context(), indexType(prune.PrunedEventType))
	if err == nil && len(rows) == 0 {
		if _, err = s.follower.Sync(t.Context()); err == nil {
			rows, err = s.idx.Query(t.Context(), indexType(prune.PrunedEventType))
		}
	}
	if err != nil || len(rows) != 1 {
		t.Fatalf("%s events: %d, %v; want 1", prune.PrunedEventType, len(rows), err)
	}
}

// responseValidator checks answers against the OpenAPI document, strictly.
type responseValidator struct {
	s *accessServer
	v validator.Validator
}

func newResponseValidator(t *testing.T, s *accessServer) *responseValidator {
	b, err := httpapi.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(openAPIDoc(t, b), config.WithStrictMode())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return &responseValidator{s: s, v: v}
}

// check sends the request again and validates its answer.
func (rv *responseValidator) check(t *testing.T, caller, method, path, body string) {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	resp, b := rv.s.do(t, caller, method, path, ct, body)
	req, _ := http.NewRequest(method, rv.s.URL+path, strings.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if secret := rv.s.tokens[caller]; secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	_, verrs := rv.v.ValidateHttpResponse(req, resp)
	for _, e := range verrs {
		t.Errorf("%s %s: %d, which the document does not allow: %s: %s\n%s", method, path, resp.StatusCode, e.Message, e.Reason, b)
	}
}

// indexAll selects every row, in index order.
func indexAll() index.Query {
	return index.Query{Below: math.MaxInt64, Order: index.ByIndex, Limit: 10000}
}

// indexType selects the rows of one event type.
func indexType(eventType string) index.Query {
	q := indexAll()
	q.EventType = eventType
	return q
}
