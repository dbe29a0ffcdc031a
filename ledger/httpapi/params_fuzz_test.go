package httpapi

import (
	"net/url"
	"testing"
	"time"
)

// FuzzQueryParams checks the query-parameter parser on any query string: it
// never panics, a query it accepts has a window inside the bounds, and a
// cursor it accepts is the encoding of what it decoded.
func FuzzQueryParams(f *testing.F) {
	f.Add("actor_id=alice&since=2026-01-01T00:00:00Z&until=2026-01-31T00:00:00Z&limit=10")
	f.Add("result=denied&actor_type=user&cursor=AAYLW0B2cAAAAAAAAAAAAAc&proof=true")
	f.Add("since=2026-02-10T12:00:00.123456789%2B02:00")
	f.Add("limit=-1&limit=2&foo=bar&since=")
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p := newParams(q, append(filterParams, "limit", "cursor", "proof")...)
		flt := p.filter(now, MaxQueryWindow)
		limit := p.number("limit", DefaultLimit, 1, MaxLimit)
		c := p.cursor()
		p.boolean("proof")
		if p.err() != nil {
			for _, fe := range p.problems {
				if fe.Field == "" || fe.Message == "" {
					t.Fatalf("problem without a parameter name: %+v", fe)
				}
			}
			return
		}
		if !flt.Since.Before(flt.Until) || flt.Until.Sub(flt.Since) > MaxQueryWindow {
			t.Fatalf("accepted window [%s, %s)", flt.Since, flt.Until)
		}
		if limit < 1 || limit > MaxLimit {
			t.Fatalf("accepted limit %d", limit)
		}
		if c != nil && encodeCursor(*c) != q.Get("cursor") {
			t.Fatalf("cursor %q decodes to %+v, which encodes to %q", q.Get("cursor"), c, encodeCursor(*c))
		}
	})
}
