package indextest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/index"
)

// BenchEvents is the size of the benchmark index that FillBench makes.
const BenchEvents = 1_000_000

// FillBench fills the empty index s with the benchmark's BenchEvents
// events (a minute or so).
func FillBench(b *testing.B, s index.Store) {
	start := time.Now()
	Fill(b, s, BenchEvents, 2)
	b.Logf("built the benchmark index in %v", time.Since(start))
}

// BenchmarkQuery measures the seed query "what did this actor do in the
// last 30 days" on an index filled by FillBench: a page of 100 rows (101
// fetched, as the API does to know whether there is a next page), newest
// first, in a 30-day window at a random point of the 400 days the events
// span. "busiest" asks about the actor of about a quarter of all events;
// "zipf" about an actor drawn from the same skewed distribution as the
// data. Latency percentiles are reported as p50-ms, p95-ms and p99-ms.
func BenchmarkQuery(b *testing.B, s index.Store) {
	for _, who := range []string{"busiest", "zipf"} {
		b.Run(who, func(b *testing.B) {
			r := rand.New(rand.NewPCG(7, 7))
			actors := rand.NewZipf(r, 1.3, 1, 4999)
			var lat []time.Duration
			rows := 0
			for b.Loop() {
				actor := "user-0"
				if who == "zipf" {
					actor = fmt.Sprintf("user-%d", actors.Uint64())
				}
				until := genBase.Add(30*24*time.Hour + time.Duration(r.Int64N(int64(genSpan-30*24*time.Hour))))
				q := index.Query{Filter: index.Filter{ActorID: actor, Since: until.Add(-30 * 24 * time.Hour), Until: until}, Below: BenchEvents, Limit: 101}
				start := time.Now()
				got, err := s.Query(b.Context(), q)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				rows += len(got)
			}
			reportPercentiles(b, lat)
			b.ReportMetric(float64(rows)/float64(len(lat)), "rows/query")
		})
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	for _, p := range []int{50, 95, 99} {
		b.ReportMetric(float64(lat[(len(lat)-1)*p/100].Microseconds())/1000, fmt.Sprintf("p%d-ms", p))
	}
}
