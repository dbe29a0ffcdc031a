package event

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// detectCorpus holds secrets that the detectors must find (want differs
// from in) and near misses that they must keep (want empty: in is kept).
var detectCorpus = []struct{ in, want string }{
	// Card numbers, Luhn-checked.
	{"card 4111111111111111 declined", "card [REDACTED] declined"},
	{"4111 1111 1111 1111", "[REDACTED]"},
	{"visa:4111-1111-1111-1111.", "visa:[REDACTED]."},
	{"amex 378282246310005", "amex [REDACTED]"},
	{"mc=5555555555554444", "mc=[REDACTED]"},
	{"6011111111111117 and 2223003122003222", "[REDACTED] and [REDACTED]"},
	{"order 4111111111111112 shipped", ""},          // 16 digits, fails Luhn
	{"order 1234567812345678 shipped", ""},          // 16 digits, fails Luhn
	{"ref 1111111111111117", ""},                    // passes Luhn, but no card starts with 1
	{"at 1733222400000 ms", ""},                     // a Unix time in ms
	{"41111111111111111111", ""},                    // 20 digits
	{"x4111111111111111", ""},                       // inside a word
	{"4111111111111111x", ""},                       // inside a word
	{"4111  1111 1111 1111", ""},                    // a double space splits it
	{"call +1 555-123-4567 now", ""},                // a phone number
	{"2026-12-03 10:11:12.123456789Z", ""},          // a timestamp
	{"sku 5105-1051-0510-5101", ""},                 // 16 digits in groups, fails Luhn
	{"id 00000000-0000-0000-0000-000000000000", ""}, // a UUID
	// US social security numbers.
	{"ssn 123-45-6789 on file", "ssn [REDACTED] on file"},
	{"(078-05-1120)", "([REDACTED])"},
	{"000-12-3456 666-12-3456 900-12-3456", ""}, // areas never issued
	{"123-00-4567 123-45-0000", ""},             // group 00, serial 0000
	{"123456789", ""},                           // no dashes
	{"1123-45-6789 123-45-67890 9-123-45-6789", ""},
	// IBANs, mod-97 checked.
	{"pay GB82WEST12345698765432 today", "pay [REDACTED] today"},
	{"IBAN: GB82 WEST 1234 5698 7654 32", "IBAN: [REDACTED]"},
	{"DE89 3704 0044 0532 0130 00 EUR", "[REDACTED] EUR"},
	{"FR1420041010050500013M02606,NL91ABNA0417164300", "[REDACTED],[REDACTED]"},
	{"GB82WEST12345698765433", ""},      // bad check digits
	{"DE89 3704 0044 0532 0130 01", ""}, // bad check digits
	{"GB82 WEST", ""},                   // too short
	{"ISO 9001 AB12 certified", ""},
	// Bearer tokens.
	{"Authorization: Bearer abc.def-123_xyz", "Authorization: [REDACTED]"},
	{"sent bearer mF_9.B5f-4.1JqM to the api", "sent bearer [REDACTED] to the api"},
	{"BEARER dGhpcyBpcyBhIHRlc3Q=", "BEARER [REDACTED]"},
	{"the bearer of bad news", ""},
	{"bearer responsibilities", ""}, // letters only, under 20
	{"Bearer abc1", ""},             // too short
	// API keys.
	{"key AKIAIOSFODNN7EXAMPLE leaked", "key [REDACTED] leaked"},
	{"ASIAY34FZKBOKMUTVV7A", "[REDACTED]"},
	{"AKIAIOSFODNN7EXAMPL", ""},  // 15 after the prefix
	{"AKIAiosfodnn7example", ""}, // lower case
	{"push with ghp_16C7e42F292c6912E7710c838347Ae178B4a.", "push with [REDACTED]."},
	{"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "[REDACTED]"},
	{"ghp_short", ""},
	{"slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack [REDACTED]"},
	{"xoxb-", ""},
	{"stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe [REDACTED]"},
	{"sk_live_", ""},
	{"AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", "[REDACTED]"},
	{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk", "jwt [REDACTED]"},
	{"eyJhbGciOiJIUzI1NiJ9.payload.sig", ""},
	// Secret pairs, by the Redactor's keys.
	{"password=hunter3", "password=[REDACTED]"},
	{"login failed: secret=abc&user=bob", "login failed: secret=[REDACTED]&user=bob"},
	{"db_password = hunter3, host=db", "db_password = [REDACTED], host=db"},
	{"password: hunter3", "password: [REDACTED]"},
	{`{"api_key":"k-123","user":"bob"}`, `{"api_key":"[REDACTED]","user":"bob"}`},
	{"X-Api-Key: 'abc 123'", "X-Api-Key: '[REDACTED]'"},
	{"Authorization: Basic dXNlcjpwYXNz", "Authorization: [REDACTED]"},
	{"user.pin=1234;next", "user.pin=[REDACTED];next"},
	{"password reset requested", ""},
	{"password_policy=strict", ""},
	{"token:t1", ""},            // an identifier, as the ledger's actor ids
	{"password=", ""},           // no value
	{"password=[REDACTED]", ""}, // already redacted
	{"", ""},
}

func TestDetectCorpus(t *testing.T) {
	r := NewRedactor(DefaultRedactKeys, DefaultDetectors...)
	for _, tt := range detectCorpus {
		want := tt.want
		if want == "" {
			want = tt.in
		}
		got, found := r.detect(tt.in)
		if got != want || found != (want != tt.in) {
			t.Errorf("detect(%q) = %q, %v; want %q", tt.in, got, found, want)
		}
		if again, found := r.detect(got); found {
			t.Errorf("detect(%q) found more in its own output: %q", tt.in, again)
		}
	}
	if luhn([]byte{4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}) {
		t.Error("the near-miss order number passes Luhn")
	}
}

// TestDetectorsEachOnOff checks that each detector finds its own positives
// and that a Redactor without it keeps them.
func TestDetectorsEachOnOff(t *testing.T) {
	examples := map[string]string{
		"card_number": "4111111111111111", "ssn": "123-45-6789", "iban": "GB82WEST12345698765432",
		"bearer_token": "Bearer abc.def-123_xyz", "api_key": "AKIAIOSFODNN7EXAMPLE", "secret_pair": "password=hunter3",
	}
	if len(examples) != len(DefaultDetectors) {
		t.Fatalf("%d examples for %d detectors", len(examples), len(DefaultDetectors))
	}
	for _, d := range DefaultDetectors {
		if got, ok := DetectorNamed(d.Name); !ok || got.Name != d.Name {
			t.Errorf("DetectorNamed(%q) = %v, %v", d.Name, got.Name, ok)
		}
		s := examples[d.Name]
		if _, found := NewRedactor(DefaultRedactKeys, d).detect(s); !found {
			t.Errorf("%s alone does not find %q", d.Name, s)
		}
		var others []Detector
		for _, o := range DefaultDetectors {
			if o.Name != d.Name {
				others = append(others, o)
			}
		}
		if got, found := NewRedactor(DefaultRedactKeys, others...).detect(s); found {
			t.Errorf("without %s, %q became %q", d.Name, s, got)
		}
	}
	if _, ok := DetectorNamed("cards"); ok {
		t.Error(`DetectorNamed("cards") found one`)
	}
}

func TestRedactValues(t *testing.T) {
	e := fullEvent()
	e.FailureReason = "password=hunter3"
	e.Reason = "refund to card 4111 1111 1111 1111, order 4111111111111112"
	e.UserAgent = "curl/8.0"
	e.Resource.ID = "123-45-6789"
	e.Tags = map[string]string{"note": "key AKIAIOSFODNN7EXAMPLE", "env": "prod"}
	e.Changes = map[string]Change{
		"comment": {Old: json.RawMessage(`"see GB82WEST12345698765432"`), New: json.RawMessage(`"none"`)},
		"profile": {New: json.RawMessage(`{"bio":"Bearer abc.def-123_xyz","n":4111111111111111,"list":["ok","078-05-1120"]}`)},
		"title":   {Old: json.RawMessage(`"a"`), New: json.RawMessage(`"b"`)},
	}
	paths := NewRedactor(DefaultRedactKeys, DefaultDetectors...).Redact(e)
	want := []string{
		"changes.comment.old", "changes.profile.new.bio", "changes.profile.new.list.1",
		"failure_reason", "reason", "resource.id", "tags.note",
	}
	if !slices.Equal(paths, want) {
		t.Errorf("redacted\n%q\nwant\n%q", paths, want)
	}
	if e.FailureReason != "password=[REDACTED]" || e.Reason != "refund to card [REDACTED], order 4111111111111112" ||
		e.Tags["note"] != "key [REDACTED]" || e.Tags["env"] != "prod" || e.UserAgent != "curl/8.0" {
		t.Errorf("redacted to %q, %q, %v", e.FailureReason, e.Reason, e.Tags)
	}
	if got := string(e.Changes["profile"].New); got != `{"bio":"Bearer [REDACTED]","list":["ok","[REDACTED]"],"n":4111111111111111}` {
		t.Errorf("profile.new = %s", got)
	}
	leaf, err := e.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hunter3", "4111 1111", "AKIA", "GB82", "abc.def", "078-05", "123-45"} {
		if bytes.Contains(leaf, []byte(s)) {
			t.Errorf("%q is in the leaf: %s", s, leaf)
		}
	}
	if problems := e.Validate(Limits{}); len(problems) > 0 {
		t.Errorf("the redacted event is not valid: %v", problems)
	}
	if again := NewRedactor(DefaultRedactKeys, DefaultDetectors...).Redact(e); again != nil {
		t.Errorf("redacting twice redacted %v again", again)
	}
	if leaf2, _ := e.Leaf(); !bytes.Equal(leaf, leaf2) {
		t.Error("redacting twice changed the leaf")
	}
}

func TestPipelineRedactsValuesByDefault(t *testing.T) {
	body := `{"action":"pay","actor":{"id":"u","type":"user"},"resource":{"type":"order"},"result":"failure",` +
		`"failure_reason":"card 4111111111111111 declined; password=hunter3"}`
	entries, err := NewPipeline(PipelineConfig{}).Prepare(Submission{Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	if leaf := string(entries.Entries[0].Leaf); !strings.Contains(leaf, `"failure_reason":"card [REDACTED] declined; password=[REDACTED]"`) {
		t.Errorf("leaf %s", leaf)
	}
	entries, err = NewPipeline(PipelineConfig{Redactor: NewRedactor(DefaultRedactKeys)}).Prepare(Submission{Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	if leaf := string(entries.Entries[0].Leaf); !strings.Contains(leaf, "4111111111111111") {
		t.Errorf("a Redactor without detectors redacted a value: %s", leaf)
	}
}

// FuzzDetect checks that the detectors never panic, that what they return
// is what they report (unchanged when nothing is found), that redacting is
// idempotent, that valid UTF-8 stays valid, that a secret found in a string
// is found in JSON text holding it, and that every corpus secret is still
// found with the fuzzed text around it.
func FuzzDetect(f *testing.F) {
	for _, tt := range detectCorpus {
		f.Add(tt.in)
	}
	r := NewRedactor(DefaultRedactKeys, DefaultDetectors...)
	f.Fuzz(func(t *testing.T, s string) {
		out, found := r.detect(s)
		if !found && out != s {
			t.Fatalf("detect(%q) changed it to %q and found nothing", s, out)
		}
		if found && !strings.Contains(out, Redacted) {
			t.Fatalf("detect(%q) = %q without a marker", s, out)
		}
		if again, found := r.detect(out); found {
			t.Fatalf("detect(%q) = %q, then %q", s, out, again)
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("detect(%q) = %q, invalid UTF-8", s, out)
		}
		// Redactor.scanStrings relies on this: a secret in a string
		// without escapes is found in the JSON text around it too.
		if found && !strings.ContainsAny(s, "\"\\") {
			for _, v := range []string{`"` + s + `"`, `{"a":["x",` + `"` + s + `"],"b":1}`} {
				if !r.scanStrings([]byte(v)) {
					t.Fatalf("detect(%q) finds a secret, but not in the JSON %s", s, v)
				}
			}
		}
		for _, secret := range []string{"4111111111111111", "123-45-6789", "GB82WEST12345698765432", "AKIAIOSFODNN7EXAMPLE"} {
			in := s + " " + secret + " " + s
			if out, _ := r.detect(in); strings.Contains(out, " "+secret+" ") {
				t.Fatalf("detect(%q) = %q kept the secret", in, out)
			}
		}
	})
}
