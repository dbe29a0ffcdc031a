package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fullEvent is a valid event with every field set.
func fullEvent() *Event {
	return &Event{
		ID:        "01890a5d-ac96-774b-bcce-b302099a8057",
		Timestamp: time.Date(2024, 5, 1, 12, 30, 0, 500000000, time.UTC),
		TenantID:  "acme",
		EventType: "permission.changed",
		Action:    "update",
		Actor:     Actor{ID: "u-42", Type: "admin", Email: "ada@example.com", Role: "owner"},
		Resource:  Resource{Type: "document", ID: "doc-7"},
		Result:    "success",
		Source:    "web",
		IPAddress: "2001:db8::7",
		UserAgent: "Mozilla/5.0 <compatible>",
		SessionID: "sess-1", CorrelationID: "corr-1", RequestID: "req-1",
		Reason:        "ticket #12:\n\tgrant \"reviewer\" & audit",
		FailureReason: "",
		Changes: map[string]Change{
			"role":  {Old: json.RawMessage(`"viewer"`), New: json.RawMessage(`"reviewer"`)},
			"scope": {New: json.RawMessage(`{"paths":["/a","/b"],"depth":1.50,"inherit":true,"note":null}`)},
		},
		Tags: map[string]string{"env": "prod", "team/owner": "security", "ticket": "SEC-12"},
	}
}

func TestValidateFullEvent(t *testing.T) {
	if problems := fullEvent().Validate(Limits{}); len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
}

func TestValidateRules(t *testing.T) {
	lim := Limits{MaxFieldBytes: 16, MaxChanges: 2, MaxTags: 3}
	tests := []struct {
		name   string
		change func(*Event)
		want   []problem
	}{
		{"all required missing", func(e *Event) { *e = Event{} }, []problem{
			{0, "action", "required"}, {0, "actor.id", "required"}, {0, "actor.type", "required"},
			{0, "resource.type", "required"}, {0, "result", "required"},
		}},
		{"actor type", func(e *Event) { e.Actor.Type = "robot" }, []problem{
			{0, "actor.type", `must be one of user, service, admin, system, api_client (got "robot")`}}},
		{"actor type case", func(e *Event) { e.Actor.Type = "User" }, []problem{{0, "actor.type", `(got "User")`}}},
		{"actor type api_client", func(e *Event) { e.Actor.Type = "api_client" }, nil},
		{"result", func(e *Event) { e.Result = "ok" }, []problem{{0, "result", `must be one of success, failure, denied (got "ok")`}}},
		{"result denied", func(e *Event) { e.Result = "denied" }, nil},
		{"action upper", func(e *Event) { e.Action = "Login" }, []problem{{0, "action", `must be a lowercase token matching [a-z][a-z0-9_.-]*, at most 128 bytes (got "Login")`}}},
		{"action digit first", func(e *Event) { e.Action = "1x" }, []problem{{0, "action", "lowercase token"}}},
		{"action space", func(e *Event) { e.Action = "log in" }, []problem{{0, "action", "lowercase token"}}},
		{"action free token", func(e *Event) { e.Action = "approve_v2.step-1" }, nil},
		{"action too long", func(e *Event) { e.Action = strings.Repeat("a", 129) }, []problem{{0, "action", "at most 128"}}},
		{"event type one segment", func(e *Event) { e.EventType = "login" }, []problem{{0, "event_type", `two or more segments of [a-z][a-z0-9_]*, at most 128 bytes (got "login")`}}},
		{"event type upper", func(e *Event) { e.EventType = "User.login" }, []problem{{0, "event_type", "dotted lowercase"}}},
		{"event type empty segment", func(e *Event) { e.EventType = "user..login" }, []problem{{0, "event_type", "dotted lowercase"}}},
		{"event type trailing dot", func(e *Event) { e.EventType = "user.login." }, []problem{{0, "event_type", "dotted lowercase"}}},
		{"event type dash", func(e *Event) { e.EventType = "user.log-in" }, []problem{{0, "event_type", "dotted lowercase"}}},
		{"event type three segments", func(e *Event) { e.EventType = "audit.accessed.v2" }, nil},
		{"event type absent", func(e *Event) { e.EventType = "" }, nil},
		{"id charset", func(e *Event) { e.ID = "a b" }, []problem{{0, "id", `must be 1 to 128 characters of A-Z a-z 0-9 . _ : - (got "a b")`}}},
		{"id slash", func(e *Event) { e.ID = "a/b" }, []problem{{0, "id", "1 to 128 characters"}}},
		{"id non-ASCII", func(e *Event) { e.ID = "é" }, []problem{{0, "id", "1 to 128 characters"}}},
		{"id too long", func(e *Event) { e.ID = strings.Repeat("k", 129) }, []problem{{0, "id", "1 to 128 characters"}}},
		{"id max length", func(e *Event) { e.ID = strings.Repeat("k", 128) }, nil},
		{"id key form", func(e *Event) { e.ID = "order-7:v2_retry.3" }, nil},
		{"ip", func(e *Event) { e.IPAddress = "1.2.3" }, []problem{{0, "ip_address", `must be an IPv4 or IPv6 address (got "1.2.3")`}}},
		{"ip leading zero", func(e *Event) { e.IPAddress = "01.2.3.4" }, []problem{{0, "ip_address", "IPv4 or IPv6"}}},
		{"ip zone", func(e *Event) { e.IPAddress = "fe80::1%eth0" }, []problem{{0, "ip_address", "IPv4 or IPv6"}}},
		{"ip host name", func(e *Event) { e.IPAddress = "example.com" }, []problem{{0, "ip_address", "IPv4 or IPv6"}}},
		{"ip v4", func(e *Event) { e.IPAddress = "198.51.100.7" }, nil},
		{"email", func(e *Event) { e.Actor.Email = "ada" }, []problem{{0, "actor.email", `must be an email address (got "ada")`}}},
		{"email at end", func(e *Event) { e.Actor.Email = "ada@" }, []problem{{0, "actor.email", "email"}}},
		{"timestamp year", func(e *Event) { e.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, []problem{{0, "timestamp", "year must be between 0000 and 9999 (got 10000)"}}},
		{"field too long", func(e *Event) { e.UserAgent = strings.Repeat("x", 17) }, []problem{{0, "user_agent", "must be at most 16 bytes (got 17)"}}},
		{"control character", func(e *Event) { e.Actor.ID = "u\x1b[31m" }, []problem{{0, "actor.id", "must not contain control characters (found U+001B at byte 1)"}}},
		{"newline outside reason", func(e *Event) { e.Resource.ID = "a\nb" }, []problem{{0, "resource.id", "U+000A"}}},
		{"newline and tab in reasons", func(e *Event) { e.Reason, e.FailureReason = "a\n\tb", "c\nd" }, nil},
		{"carriage return in reason", func(e *Event) { e.Reason = "a\rb" }, []problem{{0, "reason", "U+000D"}}},
		{"DEL", func(e *Event) { e.Source = "a\x7f" }, []problem{{0, "source", "U+007F"}}},
		{"C1 control", func(e *Event) { e.Actor.Role = "a\u0085" }, []problem{{0, "actor.role", "U+0085"}}},
		{"invalid UTF-8", func(e *Event) { e.TenantID = "a\xff" }, []problem{{0, "tenant_id", "must be valid UTF-8 (bad byte at 1)"}}},
		{"non-ASCII text", func(e *Event) { e.Reason = "café ✓ 😀" }, nil},
		{"too many changes", func(e *Event) { e.Changes["x"] = Change{New: json.RawMessage(`1`)} }, []problem{{0, "changes", "at most 2 entries (got 3)"}}},
		{"empty change name", func(e *Event) { e.Changes = map[string]Change{"": {New: json.RawMessage(`1`)}} }, []problem{{0, "changes", "names must not be empty"}}},
		{"change name control", func(e *Event) { e.Changes = map[string]Change{"a\x00": {New: json.RawMessage(`1`)}} }, []problem{{0, "changes", `name "a\x00": must not contain control characters`}}},
		{"change without values", func(e *Event) { e.Changes = map[string]Change{"a": {}} }, []problem{{0, "changes.a", "must have old or new"}}},
		{"change not JSON", func(e *Event) { e.Changes = map[string]Change{"a": {Old: json.RawMessage(`{x}`)}} }, []problem{{0, "changes.a.old", "must be a JSON value"}}},
		{"change duplicate member", func(e *Event) { e.Changes = map[string]Change{"a": {New: json.RawMessage(`{"k":1,"k":1}`)}} }, []problem{{0, "changes.a.new", `duplicate member name "k"`}}},
		{"change trailing data", func(e *Event) { e.Changes = map[string]Change{"a": {New: json.RawMessage(`1 2`)}} }, []problem{{0, "changes.a.new", "unexpected data"}}},
		{"change empty value", func(e *Event) { e.Changes = map[string]Change{"a": {New: json.RawMessage(``)}} }, []problem{{0, "changes.a.new", "must be a JSON value"}}},
		{"too many tags", func(e *Event) { e.Tags["x"] = "y" }, []problem{{0, "tags", "at most 3 entries (got 4)"}}},
		{"tag name", func(e *Event) { e.Tags = map[string]string{"a b": "c"} }, []problem{{0, "tags", `name "a b" must be 1 to 128 characters of A-Z a-z 0-9 . _ : / -`}}},
		{"empty tag name", func(e *Event) { e.Tags = map[string]string{"": "c"} }, []problem{{0, "tags", `name ""`}}},
		{"tag value", func(e *Event) { e.Tags = map[string]string{"a": "b\tc"} }, []problem{{0, "tags.a", "control characters"}}},
		{"empty tag value", func(e *Event) { e.Tags = map[string]string{"a": ""} }, nil},
		{"several", func(e *Event) { e.Actor.Type, e.Result, e.IPAddress = "", "nope", "x" }, []problem{
			{0, "actor.type", "required"}, {0, "result", "must be one of"}, {0, "ip_address", "IPv4"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fullEvent()
			e.UserAgent = "curl/8" // within the 16-byte limit used here
			e.Reason = "short"
			tt.change(e)
			checkProblems(t, e.Validate(lim), tt.want)
		})
	}
}

func TestNormalize(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 1, time.FixedZone("", 3600))
	e := &Event{IPAddress: "2001:DB8:0:0:0:0:0:1"}
	e.Normalize(now, func() string { return "new-id" })
	if e.ID != "new-id" || !e.Timestamp.Equal(now) || e.Timestamp.Location() != time.UTC || e.IPAddress != "2001:db8::1" {
		t.Errorf("normalised to %+v", e)
	}

	given := time.Date(2020, 1, 2, 3, 4, 5, 6, time.FixedZone("", -5*3600))
	e = &Event{ID: "mine", Timestamp: given, IPAddress: "not an ip", Action: " Login "}
	e.Normalize(now, func() string { t.Fatal("newID called for an event with an id"); return "" })
	if e.ID != "mine" || !e.Timestamp.Equal(given) || e.Timestamp.Location() != time.UTC || e.Timestamp.Nanosecond() != 6 {
		t.Errorf("normalised to %+v", e)
	}
	if e.IPAddress != "not an ip" || e.Action != " Login " {
		t.Errorf("Normalize changed what it must leave alone: %+v", e)
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID(), NewID()
	if a == b || len(a) != 36 || a[14] != '7' {
		t.Errorf("NewID gave %q and %q, want distinct UUIDv7s", a, b)
	}
	if problems := (&Event{ID: a}).Validate(Limits{}); problems[0].Field == "id" {
		t.Errorf("NewID's %q is not a valid id: %v", a, problems[0])
	}
}

func TestDefaultLimits(t *testing.T) {
	want := Limits{MaxEventBytes: 32768, MaxBatch: 10000, MaxFieldBytes: 4096, MaxChanges: 256, MaxTags: 64, MaxFutureSkew: 5 * time.Minute, MaxAge: 30 * 24 * time.Hour}
	if DefaultLimits() != want || (Limits{}).withDefaults() != want || (Limits{MaxBatch: -1}).withDefaults() != want {
		t.Errorf("DefaultLimits() = %+v, want %+v", DefaultLimits(), want)
	}
	if DefaultLimits().MaxEventBytes*3/2 > MaxLeafBytes {
		t.Error("MaxEventBytes is not well below MaxLeafBytes")
	}
}
