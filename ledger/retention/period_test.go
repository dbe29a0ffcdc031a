package retention

import (
	"strings"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Period
		str  string
	}{
		{"6y", Period{Months: 72}, "6y"},
		{"12mo", Period{Months: 12}, "1y"},
		{"1y6mo", Period{Months: 18}, "1y6mo"},
		{"90d", Period{Days: 90}, "90d"},
		{"2w3d", Period{Days: 17}, "17d"},
		{"36h", Period{Clock: 36 * time.Hour}, "36h"},
		{"1h30m5s", Period{Clock: time.Hour + 30*time.Minute + 5*time.Second}, "1h30m5s"},
		{"30s", Period{Clock: 30 * time.Second}, "30s"},
		{"0s", Period{}, "0s"},
		{"1y2mo3w4d5h6m7s", Period{Months: 14, Days: 25, Clock: 5*time.Hour + 6*time.Minute + 7*time.Second}, "1y2mo25d5h6m7s"},
	} {
		p, err := ParsePeriod(c.in)
		if err != nil || p != c.want || p.String() != c.str {
			t.Errorf("ParsePeriod(%q) = %+v (%q), %v; want %+v (%q)", c.in, p, p.String(), err, c.want, c.str)
		}
	}
	for _, bad := range []string{"", "6", "y", "6years", "6Y", "-1y", "1.5y", "6mo1y", "1d1d", "01d", "1m1mo", "1000000d", "1001y", " 6y", "6y "} {
		if p, err := ParsePeriod(bad); err == nil {
			t.Errorf("ParsePeriod(%q) = %v, want an error", bad, p)
		} else if !strings.Contains(err.Error(), bad) && bad != "" {
			t.Errorf("ParsePeriod(%q): %v does not quote the input", bad, err)
		}
	}
}

func TestPeriodAfterAndOrder(t *testing.T) {
	leap := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	if got := (Period{Months: 72}).After(leap); !got.Equal(time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("6y after 29 Feb 2024 = %v, want 1 March 2030", got)
	}
	year, days365, month, days30 := Period{Months: 12}, Period{Days: 365}, Period{Months: 1}, Period{Days: 30}
	if !days365.EndsBefore(year) || year.EndsBefore(days365) {
		t.Error("365d can end before 1y (in a leap year), and 1y never before 365d")
	}
	if !days30.EndsBefore(month) || !month.EndsBefore(days30) {
		t.Error("30d and 1mo each end first from some start")
	}
	if year.EndsBefore(year) || year.Compare(Period{Months: 12}) != 0 || year.Compare(month) != 1 || month.Compare(year) != -1 {
		t.Error("Compare and EndsBefore of equal and ordered periods")
	}
}

// FuzzParsePeriod checks that every period that parses formats to a string
// that parses back to it, and that nothing panics.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"6y", "1y6mo", "90d", "2w", "1h30m5s", "0s", "999999y", "1m1mo", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			return
		}
		q, err := ParsePeriod(p.String())
		if err != nil || q != p {
			t.Fatalf("%q parsed to %+v, formatted %q, which parsed to %+v, %v", s, p, p.String(), q, err)
		}
		_ = p.After(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC))
	})
}
