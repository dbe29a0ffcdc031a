package event

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestRedactorMatch(t *testing.T) {
	r := NewRedactor(DefaultRedactKeys)
	tests := []struct {
		key  string
		want bool
	}{
		{"password", true}, {"PassWord", true}, {"PASSWORD", true}, {"passwd", true},
		{"api_key", true}, {"api-key", true}, {"API-KEY", true}, {"Api_Key", true}, {"apikey", true}, {"apiKey", true},
		{"x-api-key", true}, {"db_password", true}, {"db-password", true}, {"user.password", true},
		{"newPassword", true}, {"client_secret", true}, {"clientSecret", true}, {"X-Auth-Token", true},
		{"Authorization", true}, {"access_token", true}, {"refreshToken", true}, {"private-key", true},
		{"SSN", true}, {"credit_card", true}, {"credit-card", true}, {"cardNumber", true}, {"CVV", true}, {"pin", true},
		{"user_pin", true}, {"myAPIKey", true},
		{"passwords", false}, {"passwordless", false}, {"password_policy", false}, {"spin", false}, {"pinned", false},
		{"shipping", false}, {"tokenizer", false}, {"secretary", false}, {"keyboard", false}, {"key", false},
		{"title", false}, {"", false}, {"pässword", false},
	}
	for _, tt := range tests {
		if got := r.match([]byte(tt.key)); got != tt.want {
			t.Errorf("match(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
	if NewRedactor([]string{"Mot-De-Passe"}).match([]byte("MOT_DE_PASSE")) != true {
		t.Error("configured keys are not normalised")
	}
	if NewRedactor([]string{"clé"}).match([]byte("user.CLÉ")) != true {
		t.Error("non-ASCII keys do not match case-insensitively after a separator")
	}
	var nilRedactor *Redactor
	if nilRedactor.Redact(fullEvent()) != nil || NewRedactor(nil).Redact(fullEvent()) != nil {
		t.Error("an empty Redactor redacted something")
	}
}

const secret = "hunter2-S3CRET"

func TestRedact(t *testing.T) {
	e := fullEvent()
	e.Changes = map[string]Change{
		"password":     {Old: json.RawMessage(`"` + secret + `"`), New: json.RawMessage(`"` + secret + `x"`)},
		"Api-Key":      {New: json.RawMessage(`{"value":"` + secret + `"}`)},
		"pin":          {Old: json.RawMessage(`null`), New: json.RawMessage(`1234`)},
		"profile":      {Old: json.RawMessage(`{"name":"ada"}`), New: json.RawMessage(`{"name":"ada","credentials":{"PassWord":"` + secret + `","hint":"pet"}}`)},
		"integrations": {New: json.RawMessage(`[{"name":"gh","api-key":"` + secret + `"},{"name":"x","oauth":{"access_token":"` + secret + `","scopes":["repo"]}},"` + "plain" + `"]`)},
		"deep":         {New: json.RawMessage(`{"a":[[{"b":{"client_secret":{"nested":"` + secret + `"}}}]]}`)},
		"nothing":      {Old: json.RawMessage(`{"password_policy":"strict","token_count":3}`)},
		"cleared":      {Old: json.RawMessage(`{"token":null}`)},
		"title":        {Old: json.RawMessage(`"a"`), New: json.RawMessage(`"b"`)},
	}
	e.Tags = map[string]string{"env": "prod", "X-Api-Key": secret, "authorization": "Bearer " + secret}

	paths := NewRedactor(DefaultRedactKeys).Redact(e)
	want := []string{
		"changes.Api-Key",
		"changes.deep.new.a.0.0.b.client_secret",
		"changes.integrations.new.0.api-key",
		"changes.integrations.new.1.oauth.access_token",
		"changes.password",
		"changes.pin",
		"changes.profile.new.credentials.PassWord",
		"tags.X-Api-Key",
		"tags.authorization",
	}
	if !slices.Equal(paths, want) {
		t.Errorf("redacted\n%q\nwant\n%q", paths, want)
	}
	wantChanges := map[string]string{
		"password":     `{"old":"[REDACTED]","new":"[REDACTED]"}`,
		"Api-Key":      `{"new":"[REDACTED]"}`,
		"pin":          `{"old":null,"new":"[REDACTED]"}`,
		"profile":      `{"old":{"name":"ada"},"new":{"credentials":{"PassWord":"[REDACTED]","hint":"pet"},"name":"ada"}}`,
		"integrations": `{"new":[{"api-key":"[REDACTED]","name":"gh"},{"name":"x","oauth":{"access_token":"[REDACTED]","scopes":["repo"]}},"plain"]}`,
		"deep":         `{"new":{"a":[[{"b":{"client_secret":"[REDACTED]"}}]]}}`,
		"nothing":      `{"old":{"password_policy":"strict","token_count":3}}`,
		"cleared":      `{"old":{"token":null}}`,
		"title":        `{"old":"a","new":"b"}`,
	}
	for name, w := range wantChanges {
		c := e.Changes[name]
		var got []byte
		got = append(got, '{')
		if c.Old != nil {
			got = append(append(got, `"old":`...), c.Old...)
		}
		if c.New != nil {
			if c.Old != nil {
				got = append(got, ',')
			}
			got = append(append(got, `"new":`...), c.New...)
		}
		got = append(got, '}')
		if string(got) != w {
			t.Errorf("changes.%s = %s, want %s", name, got, w)
		}
	}
	if e.Tags["env"] != "prod" || e.Tags["X-Api-Key"] != Redacted || e.Tags["authorization"] != Redacted {
		t.Errorf("tags %v", e.Tags)
	}
	leaf, err := e.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(leaf, []byte(secret)) {
		t.Errorf("the secret is in the leaf: %s", leaf)
	}
	if problems := e.Validate(Limits{}); len(problems) > 0 {
		t.Errorf("the redacted event is not valid: %v", problems)
	}
	if again := NewRedactor(DefaultRedactKeys).Redact(e); again != nil {
		t.Errorf("redacting twice redacted %v again", again)
	}
	if leaf2, _ := e.Leaf(); !bytes.Equal(leaf, leaf2) {
		t.Error("redacting twice changed the leaf")
	}
}

func TestRedactDecodedBatch(t *testing.T) {
	body := `{"action":"update","actor":{"id":"u","type":"user"},"resource":{"type":"user"},"result":"success",` +
		`"changes":{"settings":{"new":{"smtp":{"host":"mail","Password":"` + secret + `"}}},` +
		`"PASSWORD":{"old":"` + secret + `"},"keys":{"new":[{"private_key":"` + secret + `"}]}},` +
		`"tags":{"api-key":"` + secret + `"}}`
	events, _, err := decodeBatch([]byte(body), "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ev := events[0]
	ev.Normalize(fullEvent().Timestamp, NewID)
	if got := NewRedactor(DefaultRedactKeys).Redact(ev); len(got) != 4 {
		t.Errorf("redacted %v, want 4 paths", got)
	}
	leaf, err := ev.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(leaf, []byte(secret)) || strings.Contains(string(leaf), "hunter") {
		t.Errorf("the secret is in the leaf: %s", leaf)
	}
}

func TestRedactInvalidChangeValue(t *testing.T) {
	e := &Event{Changes: map[string]Change{"x": {New: json.RawMessage(`{"password":"` + secret + `"`)}}}
	paths := NewRedactor(DefaultRedactKeys).Redact(e)
	if !slices.Equal(paths, []string{"changes.x.new"}) || string(e.Changes["x"].New) != `"[REDACTED]"` {
		t.Errorf("redacted %v to %s", paths, e.Changes["x"].New)
	}
}
