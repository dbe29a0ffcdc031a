package retention

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Period is a length of time in calendar units, as regulations state it:
// "6y" is six years, "12mo" twelve months, "90d" ninety days, and the
// short units h, m, s exist for tests and trials. Units combine
// largest first: "1y6mo", "2d12h". Years and months are calendar ones
// (Period.After adds them with time.AddDate), so "6y" after 29 February
// ends on 1 March.
type Period struct {
	// Months counts years (×12) and months.
	Months int
	// Days counts weeks (×7) and days.
	Days int
	// Clock counts hours, minutes and seconds.
	Clock time.Duration
}

// maxPeriodMonths bounds a period to 1000 years, which keeps every sum
// and comparison far from overflow.
const maxPeriodMonths = 12_000

// units are the units of a period, largest first, with their sizes.
var units = []struct {
	name   string
	months int
	days   int
	clock  time.Duration
}{{"y", 12, 0, 0}, {"mo", 1, 0, 0}, {"w", 0, 7, 0}, {"d", 0, 1, 0}, {"h", 0, 0, time.Hour}, {"m", 0, 0, time.Minute}, {"s", 0, 0, time.Second}}

// errPeriod is the message of every period that does not parse.
var errPeriod = errors.New("is not a period such as 6y, 12mo, 90d, 1y6mo or 30s")

// ParsePeriod parses a period as Period's doc comment gives it.
func ParsePeriod(s string) (Period, error) {
	var p Period
	rest, next := s, 0
	if s == "" {
		return p, fmt.Errorf("%q %w", s, errPeriod)
	}
	for rest != "" {
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 0 || n > 6 || (n > 1 && rest[0] == '0') {
			return Period{}, fmt.Errorf("%q %w", s, errPeriod)
		}
		v, _ := strconv.Atoi(rest[:n]) // at most six digits
		rest = rest[n:]
		u := next
		for u < len(units) && !strings.HasPrefix(rest, units[u].name) || (u < len(units) && units[u].name == "m" && strings.HasPrefix(rest, "mo")) {
			u++
		}
		if u == len(units) {
			return Period{}, fmt.Errorf("%q %w (units largest first, each once)", s, errPeriod)
		}
		rest, next = rest[len(units[u].name):], u+1
		p.Months += v * units[u].months
		p.Days += v * units[u].days
		p.Clock += time.Duration(v) * units[u].clock
	}
	// Six digits keep the clock units under 115 years, within a Duration.
	if p.Months > maxPeriodMonths || p.Days > maxPeriodMonths*31 {
		return Period{}, fmt.Errorf("%q is longer than 1000 years", s)
	}
	return p, nil
}

// String formats p so that ParsePeriod reads it back; the zero period is
// "0s".
func (p Period) String() string {
	var b strings.Builder
	if y := p.Months / 12; y > 0 {
		fmt.Fprintf(&b, "%dy", y)
	}
	if mo := p.Months % 12; mo > 0 {
		fmt.Fprintf(&b, "%dmo", mo)
	}
	if p.Days > 0 {
		fmt.Fprintf(&b, "%dd", p.Days)
	}
	c := p.Clock
	for _, u := range units[4:] {
		if n := c / u.clock; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			c -= n * u.clock
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

// IsZero reports whether p is the zero period.
func (p Period) IsZero() bool { return p == Period{} }

// After returns the end of p starting at t.
func (p Period) After(t time.Time) time.Time { return t.AddDate(0, p.Months, p.Days).Add(p.Clock) }

// Compare orders periods by their length after a fixed, ordinary start
// (1 January 2001): -1 if p is shorter than q, 0 if as long, +1 if
// longer. Calendar units make the order depend on the start at the edges
// (a month is 28 to 31 days); EndsBefore asks for every start.
func (p Period) Compare(q Period) int {
	start := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	return p.After(start).Compare(q.After(start))
}

// EndsBefore reports whether p can end before q when both start at the
// same time: it tries the first and last day of every month of a common
// and of a leap year, the starts where months and leap days differ.
func (p Period) EndsBefore(q Period) bool {
	for _, year := range []int{2023, 2024} {
		for m := time.January; m <= time.December; m++ {
			first := time.Date(year, m, 1, 0, 0, 0, 0, time.UTC)
			for _, t := range []time.Time{first, first.AddDate(0, 1, -1)} {
				if p.After(t).Before(q.After(t)) {
					return true
				}
			}
		}
	}
	return false
}

// MarshalText implements encoding.TextMarshaler.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalYAML implements yaml.Unmarshaler, naming the line of a period
// that does not parse.
func (p *Period) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a period must be a string such as 6y, 12mo or 90d", n.Line)
	}
	v, err := ParsePeriod(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*p = v
	return nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
