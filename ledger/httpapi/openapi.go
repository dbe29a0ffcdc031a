package httpapi

import (
	_ "embed"
	"encoding/json"
	"errors"
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
// components.schemas.Event, and in components.schemas.StoredEvent the same
// with what the ledger stamps.
var OpenAPI = sync.OnceValues(func() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	var submitted, stored map[string]any
	if err := errors.Join(json.Unmarshal(event.JSONSchema, &submitted), json.Unmarshal(event.JSONSchema, &stored)); err != nil {
		return nil, fmt.Errorf("event.schema.json: %w", err)
	}
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	props, _ := stored["properties"].(map[string]any)
	if schemas == nil || props == nil {
		return nil, fmt.Errorf("openapi.yaml has no components.schemas, or event.schema.json no properties")
	}
	schemas["Event"] = submitted
	// The event as the ledger stores and answers it: what the client sent
	// and what the ledger stamps (leaf version 2).
	delete(stored, "$schema")
	stored["title"], stored["description"] = "Stored audit event", "An event as the ledger stores it: components.schemas.Event, redacted, with its id and timestamp assigned, from leaf version 2 the ledger's received_at and submitter, and from version 3 sealed."
	// The ledger's own events (audit.accessed, privacy.erasure_executed,
	// ...) are stored and answered too: the reserved types that a client
	// may not send are allowed here.
	if et, ok := props["event_type"].(map[string]any); ok {
		delete(et, "not")
	}
	props["received_at"] = map[string]any{"type": "string", "format": "date-time", "description": "When the ledger received it, by its clock."}
	props["submitter"] = map[string]any{"type": "object", "additionalProperties": false, "required": []any{"type"},
		"description": "Who submitted it, as the ledger authenticated the request.",
		"properties": map[string]any{"type": map[string]any{"enum": []any{event.SubmitterToken, event.SubmitterOpen, event.SubmitterLedger}},
			"token_id": map[string]any{"type": "string"}, "role": map[string]any{"type": "string"}, "tenant_id": map[string]any{"type": "string"}}}
	props["sealed"] = map[string]any{
		"description": "Leaf version 3 only: \"open\" when members sealed under the data subject's key are shown in clear, \"erased\" when that key was destroyed (they are left out for good), or the ciphertext when this server cannot open it (no sealing configured, or a key it never held). See docs/sealed-fields.md.",
		"oneOf": []any{map[string]any{"enum": []any{SealedOpen, SealedErased}},
			map[string]any{"type": "object", "additionalProperties": false, "required": []any{"kid", "nonce", "ct"},
				"properties": map[string]any{"kid": map[string]any{"type": "string"},
					"nonce": map[string]any{"type": "string", "contentEncoding": "base64"}, "ct": map[string]any{"type": "string", "contentEncoding": "base64"}}}}}
	schemas["StoredEvent"] = stored
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
