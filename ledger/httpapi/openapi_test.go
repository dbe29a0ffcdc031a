package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger/archive"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/tiles"
)

// openAPIDoc parses the served OpenAPI document with libopenapi.
func openAPIDoc(t *testing.T, b []byte) libopenapi.Document {
	t.Helper()
	doc, err := libopenapi.NewDocument(b)
	if err != nil {
		t.Fatalf("the OpenAPI document does not parse: %v", err)
	}
	return doc
}

// TestOpenAPI keeps the OpenAPI document true: it is a valid OpenAPI 3.1
// document (checked by libopenapi-validator against the specification's
// schema), it is what GET /v1/openapi.json serves, every example in it
// validates against its schema, and every documented operation is called
// on a real server with access control on, the request and the answer
// both validated against the document. (TestRoutesDocumented checks that
// every route of the router is documented.)
// dirArchiver archives the server's log into a directory, for POST
// /v1/admin/archive.
type dirArchiver struct{ cfg archive.Config }

func (a *dirArchiver) Archive(ctx context.Context) (archive.Record, error) {
	return archive.Run(ctx, a.cfg)
}

// tweak gives the server the archiver, fed by its own tiles and ledger;
// the policy is set once the server (and so its key) exists.
func (a *dirArchiver) tweak(t *testing.T) func(*httpapi.Config) {
	return func(c *httpapi.Config) {
		dir, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		l := c.Ledger
		a.cfg = archive.Config{Source: archive.Source(c.Tiles, func() []byte { n, _ := l.Published(); return n }), Target: dir,
			Location: "file:///archive", Logger: testlog.New(t)}
		c.Archive = a
	}
}

func TestOpenAPI(t *testing.T) {
	arch := &dirArchiver{}
	s := newAccessServer(t, arch.tweak(t))
	policy, err := tiles.NewLogPolicy(s.vkey)
	if err != nil {
		t.Fatal(err)
	}
	arch.cfg.Policy = policy
	code, h, served := s.call(t, none, "GET", "/v1/openapi.json", "")
	want, err := httpapi.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if code != 200 || h.Get("Content-Type") != "application/json" || !bytes.Equal(served, want) {
		t.Fatalf("GET /v1/openapi.json without a token: %d %s, want 200 and the document", code, h.Get("Content-Type"))
	}
	doc := openAPIDoc(t, served)
	if !strings.HasPrefix(doc.GetVersion(), "3.1") {
		t.Errorf("OpenAPI version %s, want 3.1", doc.GetVersion())
	}
	// Strict: a query parameter, header or member the document does not
	// declare is an error too, so that the document cannot fall behind.
	// The document itself (GET /v1/openapi.json) is checked without.
	v, errs := validator.NewValidator(doc, config.WithStrictMode())
	lax, laxErrs := validator.NewValidator(doc)
	if len(errs)+len(laxErrs) > 0 {
		t.Fatalf("validator: %v %v", errs, laxErrs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("the document is not valid OpenAPI: %s: %s", e.Message, e.Reason)
		}
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("BuildV3Model: %v", err)
	}

	// Every example against its schema.
	sv := schema_validation.NewSchemaValidator()
	examples := 0
	checkExamples := func(where string, schema *base.SchemaProxy, exs map[string]*base.Example) {
		for name, ex := range exs {
			examples++
			var value any
			if err := ex.Value.Decode(&value); err != nil {
				t.Fatalf("example %s of %s: %v", name, where, err)
			}
			if ok, verrs := sv.ValidateSchemaObject(schema.Schema(), value); !ok {
				for _, e := range verrs {
					t.Errorf("example %s of %s: %s: %s", name, where, e.Message, e.Reason)
				}
			}
		}
	}
	operations := map[string]bool{} // "METHOD path" → called
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			key := strings.ToUpper(method) + " " + path
			operations[key] = false
			if op.RequestBody != nil {
				for mt, media := range op.RequestBody.Content.FromOldest() {
					checkExamples(key+" request "+mt, media.Schema, examplesOf(media.Examples.FromOldest()))
				}
			}
			for status, resp := range op.Responses.Codes.FromOldest() {
				if resp.Content == nil {
					continue
				}
				for mt, media := range resp.Content.FromOldest() {
					checkExamples(fmt.Sprintf("%s %s %s", key, status, mt), media.Schema, examplesOf(media.Examples.FromOldest()))
				}
			}
		}
	}
	if examples < 10 {
		t.Errorf("only %d examples were found and checked", examples)
	}

	// Every operation called, and validated.
	_, size := s.l.Published()
	for _, c := range []struct {
		caller, method, path, documented, contentType, body string
		status                                              int
	}{
		{writerAny, "POST", "/v1/events?wait=durable", "POST /v1/events", "application/json", tenantEvent("a", "openapi-1"), 200},
		{writerAny, "POST", "/v1/events", "POST /v1/events", "application/json", "[" + tenantEvent("a", "openapi-2") + "]", 200},
		{writerAny, "POST", "/v1/events", "POST /v1/events", "application/json", `{"action":"login"}`, 400},
		{readerA, "POST", "/v1/events", "POST /v1/events", "application/json", tenantEvent("a", "x"), 403},
		{auditor, "GET", "/v1/events?limit=1&proof=true", "GET /v1/events", "", "", 200},
		{auditor, "GET", "/v1/events?limit=1&proof=first&time=received", "GET /v1/events", "", "", 200},
		{auditor, "GET", "/v1/events?limit=0", "GET /v1/events", "", "", 400},
		{readerA, "GET", "/v1/events/0", "GET /v1/events/{index}", "", "", 200},
		{readerA, "GET", "/v1/events/1", "GET /v1/events/{index}", "", "", 403},
		{auditor, "GET", "/v1/proof/0", "GET /v1/proof/{index}", "", "", 200},
		{auditor, "GET", "/v1/proof/0?at=first", "GET /v1/proof/{index}", "", "", 200},
		{writerAny, "POST", "/v1/events?wait=published", "POST /v1/events", "application/json", tenantEvent("a", "openapi-3"), 200},
		{auditor, "GET", "/v1/reports/failed-attempts?threshold=1", "GET /v1/reports/failed-attempts", "", "", 200},
		{auditor, "GET", "/v1/export?format=ndjson", "GET /v1/export", "", "", 200},
		{auditor, "GET", "/v1/export?format=csv", "GET /v1/export", "", "", 200},
		{adm, "GET", "/v1/admin/tokens", "GET /v1/admin/tokens", "", "", 200},
		{adm, "POST", "/v1/admin/tokens", "POST /v1/admin/tokens", "application/json", `{"role":"writer","tenant":"acme","name":"openapi","expires_in":"720h"}`, 201},
		{adm, "DELETE", "/v1/admin/tokens/" + s.victim, "DELETE /v1/admin/tokens/{id}", "", "", 200},
		{adm, "DELETE", "/v1/admin/tokens/0000000000000000", "DELETE /v1/admin/tokens/{id}", "", "", 404},
		{adm, "GET", "/v1/admin/holds", "GET /v1/admin/holds", "", "", 200},
		{adm, "GET", "/v1/admin/retention", "GET /v1/admin/retention", "", "", 200},
		{adm, "GET", "/v1/admin/holds/" + s.victimHold + "/blocking", "GET /v1/admin/holds/{id}/blocking", "", "", 200},
		{adm, "GET", "/v1/admin/holds/0123456789abcdef/blocking", "GET /v1/admin/holds/{id}/blocking", "", "", 404},
		{auditor, "GET", "/v1/admin/retention", "GET /v1/admin/retention", "", "", 403},
		{adm, "POST", "/v1/admin/holds", "POST /v1/admin/holds", "application/json", `{"tenant_id":"acme","reason":"case 9"}`, 201},
		{adm, "DELETE", "/v1/admin/holds/" + s.victimHold, "DELETE /v1/admin/holds/{id}", "", "", 200},
		{adm, "POST", "/v1/admin/erasures", "POST /v1/admin/erasures", "application/json", `{"subject":"alice"}`, 404}, // this server seals nothing
		{adm, "POST", "/v1/admin/archive", "POST /v1/admin/archive", "", "", 200},
		{auditor, "POST", "/v1/admin/archive", "POST /v1/admin/archive", "", "", 403},
		{none, "GET", "/v1/openapi.json", "GET /v1/openapi.json", "", "", 200},
		{none, "GET", "/checkpoint", "GET /checkpoint", "", "", 200},
		{none, "GET", "/pruned.json", "GET /pruned.json", "", "", 200},
		{adm, "POST", "/v1/admin/prune", "POST /v1/admin/prune", "application/json", `{"dry_run":true}`, 200},
		{auditor, "POST", "/v1/admin/prune", "POST /v1/admin/prune", "application/json", `{"dry_run":true}`, 403},
		{adm, "POST", "/v1/admin/prune", "POST /v1/admin/prune", "application/json", `{"dry":true}`, 400},
		{none, "GET", "/healthz", "GET /healthz", "", "", 200},
		{auditor, "GET", "/metrics", "GET /metrics", "", "", 200},
		{none, "GET", "/v1/events", "GET /v1/events", "", "", 401},
		{none, "GET", fmt.Sprintf("/tile/0/000.p/%d", size), "GET /tile/{path}", "", "", 200},
	} {
		name := c.caller + " " + c.method + " " + c.path
		if _, ok := operations[c.documented]; !ok {
			t.Errorf("%s: %s is not documented", name, c.documented)
		}
		operations[c.documented] = true
		resp, body := s.do(t, c.caller, c.method, c.path, c.contentType, c.body)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", name, resp.StatusCode, body, c.status)
			continue
		}
		if strings.HasPrefix(c.path, "/tile/") {
			continue // its path holds slashes, which OpenAPI path templates cannot match
		}
		req, _ := http.NewRequest(c.method, s.URL+c.path, strings.NewReader(c.body))
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		if secret := s.tokens[c.caller]; secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var verrs []*liberrors.ValidationError
		switch json := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"); {
		case resp.StatusCode >= 400:
			// A request made to be refused is not valid; its answer must be.
			_, verrs = v.ValidateHttpResponse(req, resp)
		case json && c.path == "/v1/openapi.json":
			_, verrs = lax.ValidateHttpRequestResponse(req, resp)
		case json:
			_, verrs = v.ValidateHttpRequestResponse(req, resp)
		default:
			// The validator reads bodies as JSON; for text, CSV and
			// NDJSON, the content type must be one documented.
			_, verrs = v.ValidateHttpRequest(req)
			if !documentedType(model, c.documented, resp) {
				t.Errorf("%s: answered %d with %s, which the document does not list", name, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
		for _, e := range verrs {
			t.Errorf("%s: %d, which the document does not allow: %s: %s\n%s", name, resp.StatusCode, e.Message, e.Reason, body)
		}
	}
	for op, called := range operations {
		if !called {
			t.Errorf("%s is documented but not called by this test", op)
		}
	}
}

// documentedType reports whether the document lists the media type of
// resp for its status under the operation "METHOD path" (or, for a call
// of no operation of its own, the one before it).
func documentedType(model *libopenapi.DocumentModel[v3.Document], operation string, resp *http.Response) bool {
	method, path, _ := strings.Cut(operation, " ")
	item, ok := model.Model.Paths.PathItems.Get(path)
	if !ok {
		return false
	}
	op, ok := item.GetOperations().Get(strings.ToLower(method))
	if !ok {
		return false
	}
	r, ok := op.Responses.Codes.Get(fmt.Sprint(resp.StatusCode))
	if !ok || r.Content == nil {
		return false
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	_, ok = r.Content.Get(mt)
	return ok
}

// examplesOf collects the named examples of a media type.
func examplesOf(all iter.Seq2[string, *base.Example]) map[string]*base.Example {
	m := map[string]*base.Example{}
	for k, v := range all {
		m[k] = v
	}
	return m
}

// do sends a request as caller and returns the response with its body read.
func (s *accessServer) do(t *testing.T, caller, method, path, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if secret := s.tokens[caller]; secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}
