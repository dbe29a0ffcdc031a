package retention

import (
	"testing"
	"time"
)

func TestKeepAllUntil(t *testing.T) {
	at := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		rules []Rule
		want  time.Time
		ok    bool
	}{
		{nil, time.Time{}, false},
		{[]Rule{{Preset: "gdpr", Max: Period{Months: 24}}}, time.Time{}, false},
		{[]Rule{{Tenant: "a", Preset: "soc2"}, {Tenant: "b", Preset: "hipaa"}, {Tenant: "c", Min: Period{Days: 30}}},
			time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC), true},
		{[]Rule{{Min: Period{Days: 31}}, {Tenant: "x", Min: Period{Months: 1}}}, time.Date(2024, 3, 31, 12, 0, 0, 0, time.UTC), true},
	} {
		p, err := New(c.rules)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := p.KeepAllUntil(at)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("KeepAllUntil(%v) of %+v = %v, %v; want %v, %v", at, c.rules, got, ok, c.want, c.ok)
		}
	}
}
