package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
)

// BenchmarkQueryHTTP measures GET /v1/events over HTTP on a log of 100,000
// events in 50 actors' names: a page of 100 rows of one actor in the last 30
// days, as JSON, with and without a tlog-proof per row. Percentiles of the
// request latency are reported as p50-ms and p95-ms.
func BenchmarkQueryHTTP(b *testing.B) {
	s := newQueryServer(b)
	start := time.Now()
	fillLog(b, s, 100_000)
	b.Logf("appended and indexed 100,000 events in %v", time.Since(start))
	for _, proof := range []string{"false", "true"} {
		b.Run("proof="+proof, func(b *testing.B) {
			benchGet(b, s.URL+"/v1/events?actor_id=u7&limit=100&proof="+proof)
		})
	}
}

// fillLog appends n events directly to the ledger and indexes them.
func fillLog(b *testing.B, s *queryServer, n int) {
	const batch = 10_000
	for from := 0; from < n; from += batch {
		entries := make([]ledger.Entry, 0, batch)
		for i := from; i < min(from+batch, n); i++ {
			ev := &event.Event{ID: fmt.Sprintf("e%d", i), Timestamp: queryNow.Add(-time.Duration(n-i) * 20 * time.Second),
				Action: "read", EventType: "record.read", Actor: event.Actor{ID: fmt.Sprintf("u%d", i%50), Type: "user"},
				Resource: event.Resource{Type: "record", ID: fmt.Sprintf("r%d", i%1000)}, Result: "success", TenantID: "t1"}
			leaf, err := ev.Leaf()
			if err != nil {
				b.Fatal(err)
			}
			entries = append(entries, ledger.Entry{Key: ev.ID, Leaf: leaf})
		}
		if _, err := s.l.Append(b.Context(), entries); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.l.WaitPublished(b.Context(), uint64(n)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.follower.Sync(b.Context()); err != nil {
		b.Fatal(err)
	}
}

func benchGet(b *testing.B, url string) {
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d", url, resp.StatusCode)
		}
	}
	slices.Sort(lat)
	for _, p := range []int{50, 95} {
		b.ReportMetric(float64(lat[(len(lat)-1)*p/100].Microseconds())/1000, fmt.Sprintf("p%d-ms", p))
	}
}
