package event

import (
	"bytes"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileSchema compiles JSONSchema with a real JSON Schema validator, with
// format assertions on (date-time).
func compileSchema(t testing.TB) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema))
	if err != nil {
		t.Fatalf("event.schema.json is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("event.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("event.schema.json")
	if err != nil {
		t.Fatalf("event.schema.json does not compile: %v", err)
	}
	return s
}

// TestJSONSchema checks the event's JSON Schema against the pipeline on
// events that each field's rules accept and refuse: the schema and
// Prepare agree on every one.
func TestJSONSchema(t *testing.T) {
	check := checker(t, compileSchema(t))
	full := `{"id":"01890a5d-ac96-774b-bcce-b302099a8057","timestamp":"2024-05-01T12:00:00.5+02:00","tenant_id":"acme","event_type":"document.updated",
"action":"update","actor":{"id":"u-1","type":"user","email":"a@example.com","role":"editor"},"resource":{"type":"document","id":"d-9"},
"result":"failure","failure_reason":"line one\nline two","source":"web","ip_address":"2001:db8::1","user_agent":"curl/8","session_id":"s",
"correlation_id":"c","request_id":"r","reason":"ticket 7\twith a tab","changes":{"title":{"old":"a","new":null},"body":{"new":{"x":[1,2]}}},"tags":{"env":"prod","k8s/ns":"x"}}`
	edit := func(old, new string) string {
		if !strings.Contains(full, old) {
			t.Fatalf("the full event has no %q", old)
		}
		return strings.Replace(full, old, new, 1)
	}
	for _, tc := range []struct {
		name, event string
		valid       bool
	}{
		{"minimal", minimal, true},
		{"every field", full, true},
		{"nulls are absent", `{"id":null,"timestamp":null,"tags":null,"changes":null,"action":"login","actor":{"id":"u","type":"user","email":null},"resource":{"type":"s","id":null},"result":"success"}`, true},
		{"unknown member", edit(`"source":"web",`, `"sauce":"web",`), false},
		{"unknown actor member", edit(`"role":"editor"`, `"rank":"editor"`), false},
		{"no action", strings.Replace(minimal, `"action":"login",`, "", 1), false},
		{"no actor", `{"action":"login","resource":{"type":"session"},"result":"success"}`, false},
		{"no actor id", edit(`"id":"u-1",`, ""), false},
		{"empty actor id", edit(`"id":"u-1"`, `"id":""`), false},
		{"no resource type", edit(`"type":"document",`, ""), false},
		{"no result", edit(`"result":"failure",`, ""), false},
		{"actor type", edit(`"type":"user"`, `"type":"robot"`), false},
		{"result case", edit(`"result":"failure"`, `"result":"Failure"`), false},
		{"action case", edit(`"action":"update"`, `"action":"Update"`), false},
		{"action with dots", edit(`"action":"update"`, `"action":"doc.update-v2"`), true},
		{"event type one segment", edit(`"event_type":"document.updated"`, `"event_type":"document"`), false},
		{"reserved event type", edit(`"event_type":"document.updated"`, `"event_type":"audit.accessed"`), false},
		{"ledger's receive time", edit(`"source":"web",`, `"received_at":"2024-05-01T10:00:00Z","source":"web",`), false},
		{"event type dash", edit(`"event_type":"document.updated"`, `"event_type":"document.up-dated"`), false},
		{"id characters", edit(`"id":"01890a5d-ac96-774b-bcce-b302099a8057"`, `"id":"a b"`), false},
		{"id too long", edit(`"id":"01890a5d-ac96-774b-bcce-b302099a8057"`, `"id":"`+strings.Repeat("a", 129)+`"`), false},
		{"id of 128", edit(`"id":"01890a5d-ac96-774b-bcce-b302099a8057"`, `"id":"`+strings.Repeat("a", 128)+`"`), true},
		{"timestamp", edit(`"timestamp":"2024-05-01T12:00:00.5+02:00"`, `"timestamp":"yesterday"`), false},
		{"email", edit(`"email":"a@example.com"`, `"email":"nobody"`), false},
		{"email with a space", edit(`"email":"a@example.com"`, `"email":"a b@example.com"`), false},
		{"control character", edit(`"source":"web"`, `"source":"w\u0007eb"`), false},
		{"newline outside reason", edit(`"source":"web"`, `"source":"w\neb"`), false},
		{"C1 control", edit(`"source":"web"`, `"source":"w\u0085eb"`), false},
		{"change without old or new", edit(`"body":{"new":{"x":[1,2]}}`, `"body":{}`), false},
		{"change member", edit(`"body":{"new":{"x":[1,2]}}`, `"body":{"new":1,"was":2}`), false},
		{"empty change name", edit(`"body":`, `"":`), false},
		{"tag name", edit(`"env":"prod"`, `"e nv":"prod"`), false},
		{"tag value not a string", edit(`"env":"prod"`, `"env":7`), false},
		{"tag value null", edit(`"env":"prod"`, `"env":null`), false},
		{"actor not an object", edit(`"actor":{"id":"u-1","type":"user","email":"a@example.com","role":"editor"}`, `"actor":"u-1"`), false},
	} {
		check(tc.name, tc.event, tc.valid)
	}
	// Every reserved namespace, as the pipeline has them.
	for _, ns := range ReservedNamespaces {
		check("namespace "+ns, edit(`"event_type":"document.updated"`, `"event_type":"`+ns+`x_y"`), false)
	}
}

// checker returns a function that validates an event with s and with the
// pipeline and fails t unless both say valid.
func checker(t *testing.T, s *jsonschema.Schema) func(name, ev string, valid bool) {
	return func(name, ev string, valid bool) {
		t.Helper()
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(ev))
		if err != nil {
			t.Fatalf("%s: not JSON: %v", name, err)
		}
		schemaErr := s.Validate(doc)
		_, prepErr := testPipeline(Limits{}).Prepare(Submission{Body: []byte(ev)})
		if (schemaErr == nil) != valid || (prepErr == nil) != valid {
			t.Errorf("%s: schema says %v, Prepare says %v; want both valid=%v", name, schemaErr, prepErr, valid)
		}
	}
}
