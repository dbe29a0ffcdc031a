package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// minimal is a valid event with only the required fields.
const minimal = `{"action":"login","actor":{"id":"u-1","type":"user"},"resource":{"type":"session"},"result":"success"}`

func TestDecodeBatchForms(t *testing.T) {
	two := minimal + "\n" + minimal
	tests := []struct {
		name        string
		body, ctype string
		n           int
		single      bool
	}{
		{"object", minimal, "application/json", 1, true},
		{"object with whitespace", " \n\t" + minimal + "\r\n ", "", 1, true},
		{"array of one", "[" + minimal + "]", "application/json", 1, false},
		{"array", "[" + minimal + ",\n " + minimal + " ]", "application/json", 2, false},
		{"ndjson", two, "application/x-ndjson", 2, false},
		{"ndjson with charset", two, "application/x-ndjson; charset=utf-8", 2, false},
		{"ndjson alias", two, "application/ndjson", 2, false},
		{"ndjson one line", minimal + "\n", "application/x-ndjson", 1, false},
		{"ndjson blank lines", "\n\n" + minimal + "\n\n  \n" + minimal + "\r\n\r\n", "application/x-ndjson", 2, false},
		{"ndjson autodetected", two + "\n", "application/json", 2, false},
		{"ndjson without content type", two, "", 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, single, err := decodeBatch([]byte(tt.body), tt.ctype, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != tt.n || single != tt.single {
				t.Fatalf("got %d events, single=%v; want %d, %v", len(events), single, tt.n, tt.single)
			}
			for _, ev := range events {
				if ev.Action != "login" || ev.Actor != (Actor{ID: "u-1", Type: "user"}) || ev.Resource.Type != "session" || ev.Result != "success" {
					t.Errorf("decoded %+v", ev)
				}
			}
		})
	}
}

// problem is a FieldError as "index field: message fragment".
type problem struct {
	index int
	field string
	msg   string // a substring of the message
}

func TestDecodeBatchErrors(t *testing.T) {
	lim := Limits{MaxBatch: 3, MaxEventBytes: 200}
	big := `{"action":"login","reason":"` + strings.Repeat("x", 200) + `"}`
	tests := []struct {
		name        string
		body, ctype string
		kind        error
		want        []problem // nil: only the kind and no details are checked
		message     string    // substring of Error()
	}{
		{"empty body", "", "", ErrInvalid, nil, "empty body"},
		{"whitespace body", " \n ", "application/x-ndjson", ErrInvalid, nil, "empty body"},
		{"empty array", "[ ]", "", ErrInvalid, nil, "empty batch"},
		{"not JSON", "hello", "", ErrInvalid, nil, "expected a JSON object"},
		{"scalar", "42", "", ErrInvalid, nil, "expected a JSON object"},
		{"array as ndjson", "[" + minimal + "]", "application/x-ndjson", ErrInvalid, nil, "not an array"},
		{"trailing garbage after object", minimal + " x", "", ErrInvalid, []problem{{0, "", "unexpected data after event 0"}}, ""},
		{"two objects on a line", minimal + minimal, "", ErrInvalid, []problem{{0, "", "one event per line"}}, ""},
		{"trailing garbage after array", "[" + minimal + "] x", "", ErrInvalid, []problem{{0, "", "unexpected data after the array"}}, ""},
		{"second array", "[" + minimal + "][]", "", ErrInvalid, []problem{{0, "", "unexpected data after the array"}}, ""},
		{"trailing comma", "[" + minimal + ",]", "", ErrInvalid, []problem{{1, "", "invalid JSON"}}, ""},
		{"unterminated array", "[" + minimal, "", ErrInvalid, []problem{{0, "", "expected ',' or ']'"}}, ""},
		{"truncated event", `{"action":"lo`, "", ErrInvalid, []problem{{0, "action", "unterminated string"}}, ""},
		{"ndjson then array", minimal + "\n[]", "application/x-ndjson", ErrInvalid, []problem{{1, "", "expected a JSON object"}}, ""},
		{"array element not object", "[" + minimal + ",42,null]", "", ErrInvalid, []problem{{1, "", "must be a JSON object (got number)"}, {2, "", "must be a JSON object (got null)"}}, ""},
		{"too many in array", "[" + strings.Repeat(minimal+",", 3) + minimal + "]", "", ErrTooLarge, []problem{{3, "", "more than 3 events"}}, ""},
		{"too many in ndjson", strings.Repeat(minimal+"\n", 4), "application/x-ndjson", ErrTooLarge, []problem{{3, "", "more than 3 events"}}, ""},
		{"event too large", "[" + minimal + "," + big + "]", "", ErrTooLarge, []problem{{1, "", "the limit is 200"}}, ""},
		{"unknown top-level field", `{"action":"x","actr":{}}`, "", ErrInvalid, []problem{{0, "actr", "unknown field"}}, ""},
		{"case mismatch", `{"Action":"x"}`, "", ErrInvalid, []problem{{0, "Action", `did you mean "action"`}}, ""},
		{"unknown actor field", `{"actor":{"id":"u","nick":"x"}}`, "", ErrInvalid, []problem{{0, "actor.nick", "unknown field (actor has id, type, email, role)"}}, ""},
		{"unknown resource field", `{"resource":{"kind":"x"}}`, "", ErrInvalid, []problem{{0, "resource.kind", "unknown field"}}, ""},
		{"unknown change field", `{"changes":{"title":{"old":1,"was":2}}}`, "", ErrInvalid, []problem{{0, "changes.title.was", "unknown field"}}, ""},
		{"sealed is not for requests", `{"sealed":{}}`, "", ErrInvalid, []problem{{0, "sealed", "set by the ledger"}}, ""},
		{"v is not for requests", `{"v":1}`, "", ErrInvalid, []problem{{0, "v", "unknown field"}}, ""},
		{"received_at and submitter are the ledger's", `{"received_at":"2024-05-01T12:00:00Z","submitter":{"type":"ledger"}}`, "", ErrInvalid,
			[]problem{{0, "received_at", "set by the ledger"}, {0, "submitter", "set by the ledger"}}, ""},
		{"duplicate field", `{"action":"read","action":"delete"}`, "", ErrInvalid, []problem{{0, "action", "duplicate field"}}, ""},
		{"duplicate actor field", `{"actor":{"id":"a","id":"b"}}`, "", ErrInvalid, []problem{{0, "actor.id", "duplicate field"}}, ""},
		{"duplicate change", `{"changes":{"a":{"old":1},"a":{"new":2}}}`, "", ErrInvalid, []problem{{0, "changes.a", "duplicate field"}}, ""},
		{"duplicate change member", `{"changes":{"a":{"old":1,"old":2}}}`, "", ErrInvalid, []problem{{0, "changes.a.old", "duplicate field"}}, ""},
		{"duplicate tag", `{"tags":{"a":"1","a":"2"}}`, "", ErrInvalid, []problem{{0, "tags.a", "duplicate field"}}, ""},
		{"duplicate member in change value", `{"changes":{"a":{"new":{"k":1,"k":2}}}}`, "", ErrInvalid, []problem{{0, "changes.a.new", `duplicate member name "k"`}}, ""},
		{"number for string", `{"action":1}`, "", ErrInvalid, []problem{{0, "action", "must be a string (got number)"}}, ""},
		{"object for string", `{"actor":{"type":{"x":1}}}`, "", ErrInvalid, []problem{{0, "actor.type", "must be a string (got object)"}}, ""},
		{"string for object", `{"actor":"me"}`, "", ErrInvalid, []problem{{0, "actor", "must be an object (got string)"}}, ""},
		{"tag value number", `{"tags":{"env":1}}`, "", ErrInvalid, []problem{{0, "tags.env", "must be a string (got number)"}}, ""},
		{"tag value null", `{"tags":{"env":null}}`, "", ErrInvalid, []problem{{0, "tags.env", "must be a string (got null)"}}, ""},
		{"change not object", `{"changes":{"a":5}}`, "", ErrInvalid, []problem{{0, "changes.a", "must be an object with old and/or new (got number)"}}, ""},
		{"bad timestamp", `{"timestamp":"2024-05-01 12:00:00"}`, "", ErrInvalid, []problem{{0, "timestamp", "must be an RFC 3339 date-time"}}, ""},
		{"timestamp lowercase t", `{"timestamp":"2024-05-01t12:00:00Z"}`, "", ErrInvalid, []problem{{0, "timestamp", "RFC 3339"}}, ""},
		{"timestamp comma", `{"timestamp":"2024-05-01T12:00:00,5Z"}`, "", ErrInvalid, []problem{{0, "timestamp", "RFC 3339"}}, ""},
		{"timestamp number", `{"timestamp":1714564800}`, "", ErrInvalid, []problem{{0, "timestamp", "string (got number)"}}, ""},
		{"invalid UTF-8", "{\"reason\":\"a\xffb\"}", "", ErrInvalid, []problem{{0, "reason", "invalid UTF-8"}}, ""},
		{"lone surrogate", `{"reason":"\ud800"}`, "", ErrInvalid, []problem{{0, "reason", "surrogate"}}, ""},
		{"raw control character", "{\"reason\":\"a\x01\"}", "", ErrInvalid, []problem{{0, "reason", "control character"}}, ""},
		{"bad escape", `{"reason":"\x"}`, "", ErrInvalid, []problem{{0, "reason", "invalid escape"}}, ""},
		{"deep change value", `{"changes":{"a":{"new":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}}`, "", ErrInvalid, []problem{{0, "changes.a.new", "nested more than 32 levels"}}, ""},
		{"bad number", `{"changes":{"a":{"new":01}}}`, "", ErrInvalid, []problem{{0, "changes.a", "invalid JSON: expected ',' or '}', found '1'"}}, ""},
		{"problems in several events", "[{\"action\":1},{},{\"tags\":[]}]", "", ErrInvalid, []problem{{0, "action", "string"}, {2, "tags", "must be an object (got array)"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, _, err := decodeBatch([]byte(tt.body), tt.ctype, lim)
			if err == nil {
				t.Fatalf("decoded %d events, want an error", len(events))
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("kind %v, want %v (%v)", e.Kind, tt.kind, e)
			}
			if !strings.Contains(e.Error(), tt.message) {
				t.Errorf("Error() = %q, want it to contain %q", e.Error(), tt.message)
			}
			if tt.want != nil {
				checkProblems(t, e.Details, tt.want)
			}
		})
	}
}

func checkProblems(t *testing.T, got []FieldError, want []problem) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d problems %v, want %d %v", len(got), got, len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.Index != w.index || g.Field != w.field || !strings.Contains(g.Message, w.msg) {
			t.Errorf("problem %d = %v, want event %d, field %q, message containing %q", i, g, w.index, w.field, w.msg)
		}
	}
}

func TestDecodeBatchStopsAfterManyProblems(t *testing.T) {
	body := "[" + strings.Repeat(`{"x":1},`, 500) + `{"x":1}]`
	_, _, err := decodeBatch([]byte(body), "", Limits{})
	e := err.(*Error)
	if len(e.Details) != maxDetails {
		t.Fatalf("%d details, want %d", len(e.Details), maxDetails)
	}
}

func TestDecodeFields(t *testing.T) {
	body := `{"id":"k-1","timestamp":"2024-05-01T14:30:00.123456789+02:00","tenant_id":"acme","event_type":"user.login",
	"action":"login","actor":{"id":"u-1","type":"user","email":"a@example.com","role":"admin"},
	"resource":{"type":"session","id":"s-1"},"result":"failure","failure_reason":"bad password\n2nd try","source":"web",
	"ip_address":"192.0.2.1","user_agent":"curl/8","session_id":"sess","correlation_id":"corr","request_id":"req",
	"reason":"why","changes":{"title":{"old":"a","new":{ "z" : [1, 2.50, -0e+3], "a" : null }},"gone":{"old":true},"made":{"new":null}},
	"tags":{"env":"prod","":""},"tenant_id2":null}`
	_, _, err := decodeBatch([]byte(body), "", Limits{})
	checkProblems(t, err.(*Error).Details, []problem{{0, "tenant_id2", "unknown field"}})

	body = strings.Replace(body, `,"tenant_id2":null`, "", 1)
	events, single, err := decodeBatch([]byte(body), "", Limits{})
	if err != nil || !single {
		t.Fatal(err, single)
	}
	want := &Event{
		ID: "k-1", Timestamp: time.Date(2024, 5, 1, 14, 30, 0, 123456789, time.FixedZone("", 2*3600)), TenantID: "acme",
		EventType: "user.login", Action: "login", Actor: Actor{ID: "u-1", Type: "user", Email: "a@example.com", Role: "admin"},
		Resource: Resource{Type: "session", ID: "s-1"}, Result: "failure", FailureReason: "bad password\n2nd try",
		Source: "web", IPAddress: "192.0.2.1", UserAgent: "curl/8", SessionID: "sess", CorrelationID: "corr",
		RequestID: "req", Reason: "why",
		Changes: map[string]Change{
			"title": {Old: json.RawMessage(`"a"`), New: json.RawMessage(`{"a":null,"z":[1,2.50,-0e+3]}`)},
			"gone":  {Old: json.RawMessage(`true`)},
			"made":  {New: json.RawMessage(`null`)},
		},
		Tags: map[string]string{"env": "prod", "": ""},
	}
	if got := events[0]; !equalEvents(got, want) {
		t.Errorf("decoded\n%#v\nwant\n%#v", got, want)
	}
}

// equalEvents compares events, timestamps by instant and empty maps as nil.
func equalEvents(a, b *Event) bool {
	x, y := *a, *b
	if !x.Timestamp.Equal(y.Timestamp) {
		return false
	}
	x.Timestamp, y.Timestamp = time.Time{}, time.Time{}
	for _, e := range []*Event{&x, &y} {
		if len(e.Changes) == 0 {
			e.Changes = nil
		}
		if len(e.Tags) == 0 {
			e.Tags = nil
		}
	}
	return fmt.Sprintf("%#v", x) == fmt.Sprintf("%#v", y)
}

func TestDecodeNullIsAbsent(t *testing.T) {
	for _, body := range []string{
		`{"id":null,"timestamp":null,"actor":null,"resource":{"id":null},"changes":null,"tags":null}`,
		`{"actor":{},"resource":{},"changes":{},"tags":{}}`,
	} {
		events, _, err := decodeBatch([]byte(body), "", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if ev := events[0]; fmt.Sprintf("%#v", *ev) != fmt.Sprintf("%#v", Event{}) {
			t.Errorf("%s: got %#v, want the zero event", body, ev)
		}
	}
}

func TestDecodeEscapes(t *testing.T) {
	events, _, err := decodeBatch([]byte(`{"reason":"\"\\\/\b\f\n\r\t\u00e9\u20ac\ud83d\ude00<>&"}`), "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := events[0].Reason, "\"\\/\b\f\n\r\té€😀<>&"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
}

func TestUnmarshalJSON(t *testing.T) {
	var ev Event
	if err := json.Unmarshal([]byte(minimal), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Action != "login" || ev.Actor.Type != "user" {
		t.Errorf("got %+v", ev)
	}
	err := json.Unmarshal([]byte(`{"ACTION":"x"}`), &ev)
	if e, ok := err.(*Error); !ok || e.Details[0].Field != "ACTION" {
		t.Errorf("err = %v, want an *Error for ACTION", err)
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Kind: ErrInvalid, Message: "invalid events", Details: []FieldError{
		{Index: 2, Field: "actor.type", Message: "required"}, {Index: 3, Message: "x"},
	}}
	if got, want := e.Error(), "invalid events: event 2: actor.type: required (and 1 more)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	b, _ := json.Marshal(e.Details)
	if got, want := string(b), `[{"index":2,"field":"actor.type","message":"required"},{"index":3,"message":"x"}]`; got != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
}

func TestDecodedIDDoesNotShareBody(t *testing.T) {
	body := `{"id":"key-1","action":"read","source":"web"}`
	events, _, err := decodeBatch([]byte(body), "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// Fields are cut from one copy of the body, so their addresses are as
	// far apart as in the body; an id doing so would keep the whole body
	// alive in the ledger's idempotency index.
	addr := func(s string) uintptr { return uintptr(unsafe.Pointer(unsafe.StringData(s))) }
	distance := func(a, b string) uintptr { return uintptr(strings.Index(body, b) - strings.Index(body, a)) }
	ev := events[0]
	if addr(ev.Source)-addr(ev.Action) != distance(`"read"`, `"web"`) {
		t.Fatal("fields are not cut from one copy of the body; this test is out of date")
	}
	if addr(ev.Action)-addr(ev.ID) == distance(`"key-1"`, `"read"`) {
		t.Error("the id shares memory with the body")
	}
}
