package httpapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/ledger-dev/ledger/ledger/event"
)

// openAPIYAML is the OpenAPI 3.1 document of this API, as written; its
// components.schemas.Event is a placeholder for event.JSONSchema, so that
// the event's schema is written once.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI returns the API's OpenAPI 3.1 document as JSON, as GET
// /v1/openapi.json serves it: openapi.yaml with the event's JSON Schema in
// components.schemas.Event.
var OpenAPI = sync.OnceValues(func() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	var schema map[string]any
	if err := json.Unmarshal(event.JSONSchema, &schema); err != nil {
		return nil, fmt.Errorf("event.schema.json: %w", err)
	}
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	if schemas == nil {
		return nil, fmt.Errorf("openapi.yaml has no components.schemas")
	}
	schemas["Event"] = schema
	return json.Marshal(doc)
})

// openAPI serves the OpenAPI document.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	doc, err := OpenAPI()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}
