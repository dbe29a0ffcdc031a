package retention

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustPeriod(t *testing.T, s string) Period {
	t.Helper()
	p, err := ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		glob, name string
		want       bool
	}{
		{"*", "", true}, {"*", "acme", true}, {"acme", "acme", true}, {"acme", "acme2", false},
		{"auth.*", "auth.login", true}, {"auth.*", "auth.", true}, {"auth.*", "authz.login", false},
		{"*.login", "auth.login", true}, {"a*b*c", "aXbYc", true}, {"a*b*c", "aXcYb", false},
		{"eu-*", "*", false}, {"ü*", "über", true},
	} {
		if got := glob(c.glob).matches(c.name); got != c.want {
			t.Errorf("%q matches %q: %v, want %v", c.glob, c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"*", "acme", true}, {"acme", "acme", true}, {"acme", "globex", false},
		{"auth.*", "*.login", true}, {"auth.*", "admin.*", false}, {"eu-*", "*-prod", true},
		{"a*", "b*", false}, {"*x", "*y", false}, {"a*c", "ab*", true},
	} {
		if got := glob(c.a).overlaps(glob(c.b)); got != c.want || glob(c.b).overlaps(glob(c.a)) != c.want {
			t.Errorf("%q overlaps %q: %v, want %v (both ways)", c.a, c.b, got, c.want)
		}
	}
}

func TestPolicyMostProtectiveWins(t *testing.T) {
	p, err := New([]Rule{
		{Tenant: "*", EventType: "*", Preset: "soc2"},
		{Tenant: "health-*", Preset: "hipaa"},
		{Tenant: "*", EventType: "payment.*", Preset: "pci-dss"},
		{Tenant: "eu-*", EventType: "marketing.*", Preset: "gdpr", Max: mustPeriod(t, "2y")},
		{Tenant: "eu-*", EventType: "marketing.*", Max: mustPeriod(t, "3y")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tenant, eventType string
		rules             []int
		min, max, avail   string
	}{
		{"acme", "user.login", []int{1}, "1y", "0s", "0s"},
		{"health-north", "record.viewed", []int{1, 2}, "6y", "0s", "0s"},
		{"health-north", "payment.captured", []int{1, 2, 3}, "6y", "0s", "3mo"},
		{"eu-shop", "marketing.sent", []int{1, 4, 5}, "1y", "2y", "0s"},
	} {
		e := p.For(c.tenant, c.eventType)
		if !slices.Equal(e.Rules, c.rules) || e.Min.String() != c.min || e.Max.String() != c.max || e.Available.String() != c.avail || e.Forever {
			t.Errorf("For(%q, %q) = %+v, want rules %v, min %s, max %s, available %s", c.tenant, c.eventType, e, c.rules, c.min, c.max, c.avail)
		}
	}
	ts := time.Date(2020, 1, 15, 0, 0, 0, 0, time.UTC)
	hipaa := p.For("health-north", "record.viewed")
	if until, rule := hipaa.KeepUntil(ts); rule != 2 || !until.Equal(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("KeepUntil = %v, rule %d; want 2026-01-15 by rule 2", until, rule)
	}
	if hipaa.Deletable(ts, ts.AddDate(5, 11, 30)) || !hipaa.Deletable(ts, ts.AddDate(6, 0, 0)) || hipaa.Overdue(ts, ts.AddDate(100, 0, 0)) {
		t.Error("a HIPAA event is deletable after six years, not before, and never overdue")
	}
	eu := p.For("eu-shop", "marketing.sent")
	if eu.Overdue(ts, ts.AddDate(1, 11, 0)) || !eu.Overdue(ts, ts.AddDate(2, 0, 0)) {
		t.Error("the shortest max (2y) decides when an event is overdue")
	}
	// 30d and 1mo: which is longer depends on the start; both must pass.
	q, err := New([]Rule{{EventType: "a.*", Min: mustPeriod(t, "30d")}, {EventType: "*.b", Min: mustPeriod(t, "1mo")}})
	if err != nil {
		t.Fatal(err)
	}
	jan := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if e := q.For("t", "a.b"); e.Deletable(jan, jan.AddDate(0, 0, 30)) || !e.Deletable(jan, jan.AddDate(0, 1, 0)) {
		t.Error("from 1 January, 1mo (31 days) outlasts 30d")
	}
	if _, rule := q.For("t", "a.b").KeepUntil(jan); rule != 2 {
		t.Errorf("from 1 January, rule 2 (1mo) decides, not %d", rule)
	}
	if _, rule := q.For("t", "a.b").KeepUntil(time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)); rule != 1 {
		t.Errorf("from 1 February, rule 1 (30d) decides, not %d", rule)
	}
	if e := q.For("t", "x.y"); !e.Forever || e.Deletable(jan, jan.AddDate(1000, 0, 0)) {
		t.Errorf("an event no rule matches is kept forever: %+v", e)
	}
	var none Policy
	if e := none.For("t", "x"); !e.Forever {
		t.Error("the zero policy keeps everything")
	}
}

func TestPolicyRefused(t *testing.T) {
	for _, c := range []struct {
		rules []Rule
		want  string
	}{
		{[]Rule{{Preset: "hippa"}}, `unknown preset "hippa" (the presets are hipaa, sox, pci-dss, soc2, gdpr)`},
		{[]Rule{{Tenant: "acme"}}, "rule 1: give min, max or a preset"},
		{[]Rule{{Preset: "gdpr"}}, "preset gdpr needs max"},
		{[]Rule{{Preset: "hipaa", Min: mustPeriod(t, "5y")}}, "shorter than preset hipaa's 6y"},
		{[]Rule{{Preset: "pci-dss", Available: mustPeriod(t, "1mo")}}, "shorter than preset pci-dss's 3mo"},
		{[]Rule{{Min: mustPeriod(t, "2y"), Max: mustPeriod(t, "1y")}}, "max 1y is shorter than min 2y"},
		{[]Rule{{Min: mustPeriod(t, "1y"), Available: mustPeriod(t, "2y")}}, "available 2y is longer than min 1y"},
		{[]Rule{{Min: mustPeriod(t, "1y"), Max: mustPeriod(t, "365d")}}, "max 365d is shorter than min 1y"},
		{[]Rule{{Tenant: "health-*", Preset: "hipaa"}, {Tenant: "*-eu", Preset: "gdpr", Max: mustPeriod(t, "2y")}},
			`rule 2 (tenant "*-eu", event_type "*") deletes after 2y, but rule 1 (tenant "health-*", event_type "*") keeps events it may also match for 6y`},
		{[]Rule{{Tenant: "a", EventType: "*", Min: mustPeriod(t, "7y")}, {EventType: "x.*", Preset: "gdpr", Max: mustPeriod(t, "1y")}}, "rule 2"},
		{[]Rule{{Tenant: strings.Repeat("a", 300), Min: mustPeriod(t, "1y")}}, "tenant"},
	} {
		_, err := New(c.rules)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want ErrInvalid naming %q", c.rules, err, c.want)
		}
	}
	// Globs that cannot meet do not conflict.
	if _, err := New([]Rule{{Tenant: "health-*", Preset: "hipaa"}, {Tenant: "eu-*", Preset: "gdpr", Max: mustPeriod(t, "2y")}}); err != nil {
		t.Errorf("disjoint tenants: %v", err)
	}
}

func TestPolicyDigest(t *testing.T) {
	a, _ := New([]Rule{{Preset: "hipaa"}})
	b, _ := New([]Rule{{Tenant: "*", EventType: "*", Min: mustPeriod(t, "72mo"), Preset: "hipaa"}})
	c, _ := New([]Rule{{Preset: "sox"}})
	if a.Digest() != b.Digest() || a.Digest() == c.Digest() || len(a.Digest()) != 64 {
		t.Errorf("digests %s %s %s: the same rules as applied digest alike, others not", a.Digest(), b.Digest(), c.Digest())
	}
	var zero Policy
	if e, _ := New(nil); e.Digest() != zero.Digest() {
		t.Error("no rules and the zero policy digest alike")
	}
}

// TestTenantMax takes only the rules that match every event type of a
// tenant, the shortest max among them.
func TestTenantMax(t *testing.T) {
	p, err := New([]Rule{
		{Tenant: "eu-*", Min: mustPeriod(t, "30d"), Max: mustPeriod(t, "3y")},
		{Tenant: "eu-shop", Min: mustPeriod(t, "30d"), Max: mustPeriod(t, "2y")},
		{Tenant: "eu-shop", EventType: "marketing.*", Min: mustPeriod(t, "30d"), Max: mustPeriod(t, "90d")},
		{Tenant: "us-*", EventType: "marketing.*", Min: mustPeriod(t, "30d"), Max: mustPeriod(t, "1y")},
		{Tenant: "*", Min: mustPeriod(t, "30d")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tenant string
		max    string
		rule   int
	}{
		{"eu-shop", "2y", 2}, {"eu-bank", "3y", 1}, {"us-shop", "", 0}, {"other", "", 0},
	} {
		max, rule := p.TenantMax(c.tenant)
		if rule != c.rule || c.rule != 0 && max != mustPeriod(t, c.max) {
			t.Errorf("TenantMax(%q) = %v, rule %d; want %s, rule %d", c.tenant, max, rule, c.max, c.rule)
		}
	}
	if got := p.ShortestTenantMax(); got != mustPeriod(t, "2y") {
		t.Errorf("ShortestTenantMax = %v, want 2y", got)
	}
	if got := (&Policy{}).ShortestTenantMax(); !got.IsZero() {
		t.Errorf("ShortestTenantMax of the empty policy = %v", got)
	}
}
