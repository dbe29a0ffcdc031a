package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
)

func TestParseConfig(t *testing.T) {
	good := `
bucket: s3://tiles/prod?region=eu-west-1
public_entries: true
redact_keys: [diagnosis, mrn]
redact_values: {iban: false, ssn: true}
limits: {max_body_bytes: 1048576, max_batch: 100, max_event_bytes: 8192}
rate_limit: {per_second: 50, burst: 100}
tokens:
  - id: 7cbdbbb267f79c35
    role: admin
    sha256: 7cbdbbb267f79c359e72119eb519fb69797a1aaf90142839584bfeb5aedc821b
`
	c, err := parseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if !c.PublicEntries || c.Bucket != "s3://tiles/prod?region=eu-west-1" || len(c.RedactKeys) != 2 || c.eventLimits().MaxBatch != 100 || c.eventLimits().MaxTags != 64 ||
		c.RateLimit.Burst != 100 || len(c.Tokens) != 1 || c.Tokens[0].Role != "admin" {
		t.Fatalf("parsed %+v", c)
	}
	ev := &event.Event{Reason: "diagnosis=flu, ssn 123-45-6789, iban GB82WEST12345698765432, card 4111111111111111"}
	if paths := c.redactor().Redact(ev); len(paths) != 1 || ev.Reason != "diagnosis=[REDACTED], ssn [REDACTED], iban GB82WEST12345698765432, card [REDACTED]" {
		t.Errorf("redact_values {iban: false}: %v, %q", paths, ev.Reason)
	}
	if c, err := parseConfig([]byte("limits: {max_event_bytes: 32768}")); err != nil || c.eventLimits().MaxEventBytes != event.DefaultLimits().MaxEventBytes {
		t.Errorf("the default max_event_bytes written out: %+v, %v", c, err)
	}
	if c, err := parseConfig([]byte("limits: {max_future_skew: 90s, max_event_age: 2160h}")); err != nil ||
		c.eventLimits().MaxFutureSkew != 90*time.Second || c.eventLimits().MaxAge != 90*24*time.Hour {
		t.Errorf("the timestamp bounds: %+v, %v", c, err)
	}
	if l := (&serveConfig{}).eventLimits(); l.MaxFutureSkew != event.DefaultMaxFutureSkew || l.MaxAge != event.DefaultMaxAge {
		t.Errorf("the default timestamp bounds: %+v", l)
	}
	if c, err := parseConfig([]byte("retention:\n  rules:\n    - {tenant: 'health-*', preset: hipaa}\n    - {event_type: 'payment.*', preset: pci-dss, min: 18mo}\n")); err != nil ||
		c.policy.For("health-a", "payment.captured").Min.String() != "6y" || c.policy.For("b", "payment.captured").Min.String() != "1y6mo" || !c.policy.For("b", "x").Forever {
		t.Errorf("retention: %+v, %v", c, err)
	}
	if c, err := parseConfig([]byte("archive: {location: 's3://worm/prod?endpoint=http://127.0.0.1:7070&path_style=true', object_lock: compliance, every: 24h, serve_pruned_reads: true}\n" +
		"retention: {rules: [{preset: soc2}]}")); err != nil || !c.Archive.locked() || c.Archive.Every != 24*time.Hour || !c.Archive.ServePrunedReads {
		t.Errorf("archive: %+v, %v", c, err)
	}
	if c, err := parseConfig([]byte("sealing:\n  tags: [mrn]\n  tenants:\n    health-a: {fields: [actor.email, reason], tags: [diagnosis]}\n    shop: {tags: [card_holder]}\n")); err != nil {
		t.Errorf("sealing with tenants: %v", err)
	} else {
		all, _, tenants := c.Sealing.sealing()
		if !slices.Equal(tenants["health-a"].Fields, []string{"actor.email", "reason"}) || !slices.Equal(tenants["health-a"].Tags, []string{"diagnosis"}) ||
			!slices.Equal(tenants["shop"].Fields, event.DefaultSealedFields) || !slices.Equal(tenants["shop"].Tags, []string{"card_holder"}) ||
			!slices.Equal(all.Tags, []string{"mrn"}) || len(tenants) != 2 {
			t.Errorf("sealing with tenants: %+v, tenants %+v", all, tenants)
		}
	}
	if c, err := parseConfig(nil); err != nil || c.PublicEntries || len(c.policy.Rules()) != 0 {
		t.Fatalf("an empty file: %+v, %v", c, err)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"public_entrys: true", "public_entrys"},
		{"limits: {max_batch: -1}", "max_batch"},
		{"limits: {max_event_age: -1h}", "max_event_age must not be negative"},
		{"limits: {max_future_skew: soon}", `"soon" is not a duration such as 5m or 720h`},
		{"limits: {max_event_bytes: 60000}", "max_event_bytes"},
		{"limits: {max_event_bytes: 32769}", "at most 32768"},
		{"tls: {cert: a.pem}", "both cert and key"},
		{"redact_keys: ['']", "empty key"},
		{"redact_values: {cards: false}", `unknown detector "cards" (the detectors are card_number, ssn, iban, bearer_token, api_key, secret_pair)`},
		{"redact_values: {iban: maybe}", `"maybe" is not true or false`},
		{"rate_limit: {per_second: 5}", "burst"},
		{"tokens: [{id: 7cbdbbb267f79c35, role: root, sha256: 7cbdbbb267f79c359e72119eb519fb69797a1aaf90142839584bfeb5aedc821b}]", "unknown role"},
		{"tokens: [{id: 0000000000000000, role: admin, sha256: 7cbdbbb267f79c359e72119eb519fb69797a1aaf90142839584bfeb5aedc821b}]", "first 16 hex"},
		{"tokens: [{id: 7cbdbbb267f79c35, role: reader, sha256: 7cbdbbb267f79c359e72119eb519fb69797a1aaf90142839584bfeb5aedc821b}]", "needs a tenant"},
		{"a: 1\n---\nb: 2", `unknown key "a"`},
		{"limts: {max_batch: 10}", `line 1: unknown key "limts"`},
		{"limits: {max_bach: 10}", `unknown key "max_bach"`},
		{"limits: {max_batch: ten}", `"ten" is not a whole number`},
		{"public_entries: yes please", `"yes please" is not true or false`},
		{"public_entries: true\n---\npublic_entries: false", "more than one"},
		{"[1, 2]", "a YAML seq where docs/access.md has a mapping"},
		{"bucket: s3://tiles?regoin=x", "unknown parameter"},
		{"bucket: gs://tiles", "neither an s3:// URL"},
		{"sealing: {fields: [actor.id]}", `sealing: field "actor.id" cannot be sealed`},
		{"sealing: {subject: actor.email}", `sealing: the subject "actor.email" is not actor.id, resource.id or tag:NAME`},
		{"sealing: {master_key: abc}", `unknown key "master_key"`},
		{"sealing: {tenants: {health-a: {fields: [actor.id]}}}", `sealing: tenants.health-a: field "actor.id" cannot be sealed`},
		{"sealing: {tenants: {health-a: {subject: resource.id}}}", `unknown key "subject"`},
		{"sealing: {tenants: {'': {tags: [x]}}}", `sealing: tenants: an empty tenant id`},
		{"retention: {rules: [{preset: hippa}]}", `line 1: retention: invalid retention policy: rule 1: unknown preset "hippa"`},
		{"retention:\n  rules:\n    - preset: hipaa\n    - {preset: gdpr, max: 1y}\n", `line 4 and 3: retention: invalid retention policy: rule 2`},
		{"retention: {rules: [{preset: hipaa, keep: 7y}]}", `line 1: unknown key "keep"`},
		{"retention:\n  rules:\n    - min: 6years", `line 3: "6years" is not a period such as 6y`},
		{"retention: {rules: [{min: [1]}]}", "a period must be a string"},
		{"retention: {rules: [hipaa]}", `"hipaa" is not a rule`},
		{"retention: {rule: []}", `unknown key "rule"`},
		{"retention: {rules: [{tenant: 'health-*', preset: hipaa}, {preset: gdpr, max: 2y}]}", "rule 2 (tenant \"*\", event_type \"*\") deletes after 2y, but rule 1"},
		{"archive: {every: 1h}", "archive: location is required"},
		{"archive: {location: gs://x}", `archive: location: "gs://x" is neither an s3:// URL nor a directory`},
		{"archive: {location: 's3://a?regoin=x'}", "archive: location: bucket URL"},
		{"archive: {location: /a, object_lock: governance}", `object_lock "governance" is not compliance or none`},
		{"archive: {location: /a, every: -1h}", "every must not be negative"},
		{"archive: {location: /a, every: daily}", `"daily" is not a duration`},
		{"archive: {location: /a, object_lock: compliance}\nretention: {rules: [{preset: soc2}]}", "a directory \"/a\" cannot lock its files"},
		{"archive: {location: s3://a, object_lock: compliance}", "no retention rule sets a min"},
		{"archive: {location: s3://a, serve_pruned: true}", `unknown key "serve_pruned"`},
	} {
		_, err := parseConfig([]byte(bad.yaml))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want an error naming %q", bad.yaml, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "main.") {
			t.Errorf("%q: %v names a Go type", bad.yaml, err)
		}
	}
}

// FuzzParseConfig: any input is parsed or refused, never a panic, and a
// configuration that parses has limits and tokens that validate.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("public_entries: true\nredact_keys: [x]\nlimits: {max_batch: 3}\n"))
	f.Add([]byte("tokens:\n  - id: 7cbdbbb267f79c35\n    role: admin\n    sha256: 7cbdbbb267f79c359e72119eb519fb69797a1aaf90142839584bfeb5aedc821b\n"))
	f.Add([]byte("rate_limit: {per_second: 1.5, burst: 2}\ntls: {cert: c, key: k}\n"))
	f.Add([]byte("&a [*a, *a]"))
	f.Add([]byte("sealing:\n  tags: [mrn]\n  tenants:\n    health-a: {fields: [reason], tags: [diagnosis]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseConfig(b)
		if err != nil {
			return
		}
		if c.validate() != nil {
			t.Fatal("a parsed configuration does not validate")
		}
		l := c.eventLimits()
		if l.MaxBatch <= 0 || l.MaxEventBytes <= 0 || l.MaxFieldBytes <= 0 {
			t.Fatalf("limits %+v", l)
		}
	})
}

// TestDocumentedConfig parses every YAML example of docs/access.md and
// docs/operations.md (the production configuration), so that
// the documented configuration is one the binary takes.
func TestDocumentedConfig(t *testing.T) {
	for _, file := range []string{"../../docs/access.md", "../../docs/operations.md"} {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
		if len(blocks) == 0 {
			t.Fatalf("%s has no yaml example", file)
		}
		for _, b := range blocks {
			if _, err := parseConfig(b[1]); err != nil {
				t.Errorf("%s example refused: %v\n%s", file, err, b[1])
			}
		}
	}
}

// TestKeyResolution: the key store rounds a key's newest event, and the
// shredder runs, every tenth of the shortest tenant-wide max, at most
// hourly.
func TestKeyResolution(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want time.Duration
	}{
		{"", time.Hour},
		{"retention: {rules: [{tenant: short, min: 1s, max: 3s}, {tenant: long, min: 1h}]}", 300 * time.Millisecond},
		{"retention: {rules: [{tenant: a, event_type: 'marketing.*', min: 1s, max: 2s}]}", time.Hour}, // no tenant-wide max
		{"retention: {rules: [{preset: gdpr, max: 2y}]}", time.Hour},
	} {
		conf, err := parseConfig([]byte(c.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if got := keyResolution(conf.policy); got != c.want {
			t.Errorf("%q: resolution %v, want %v", c.yaml, got, c.want)
		}
	}
}
