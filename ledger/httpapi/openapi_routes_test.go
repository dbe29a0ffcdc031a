package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

// TestRoutesDocumented: every route the router serves is an operation of
// the OpenAPI document, and every operation of the document is a route
// (TestOpenAPI then calls each one). chi's "/tile/*" is the document's
// "/tile/{path}", whose path holds slashes.
func TestRoutesDocumented(t *testing.T) {
	mem := storagetest.NewMemory()
	signer, _ := storagetest.NewSigner(t, "example.com/routes")
	l, err := ledger.New(t.Context(), ledger.Config{Storage: mem, Keys: storagetest.NewMemoryKeys(), Signer: signer, KeyOf: storagetest.KeyBeforeBar})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	s, err := New(Config{Ledger: l, Tiles: mem, Metrics: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	err = chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(strings.ReplaceAll(route, "/*/", "/"), "/")
		route = strings.Replace(route, "/tile/*", "/tile/{path}", 1)
		routes = append(routes, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	methodRe := regexp.MustCompile(`^(get|put|post|delete|patch|head)$`)
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			if methodRe.MatchString(method) {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("the router serves %s, which the OpenAPI document does not describe", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("the OpenAPI document describes %s, which the router does not serve", d)
		}
	}
	if len(routes) < 15 {
		t.Errorf("only %d routes found: %v", len(routes), routes)
	}
}
