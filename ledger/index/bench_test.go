package index

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/pgtest"
)

// benchEvents is the size of the benchmark index.
const benchEvents = 1_000_000

// benchVersion names the cached SQLite benchmark index. Change it whenever
// genEvents or the schema changes.
const benchVersion = "v1"

// benchSQLite returns the 1M-event SQLite index, built once (about a minute)
// and cached in $TMPDIR.
func benchSQLite(b *testing.B) *SQLite {
	path := filepath.Join(os.TempDir(), "ledger-index-bench-"+benchVersion+".sqlite")
	if _, err := os.Stat(path); err != nil {
		tmp := path + ".tmp"
		os.Remove(tmp)
		s, err := OpenSQLite(b.Context(), tmp)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		genEvents(b, benchEvents, 2).fill(b, s)
		b.Logf("built the benchmark index in %v", time.Since(start))
		s.Close()
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
	}
	s, err := OpenSQLite(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkQuery measures the seed query "what did this actor do in the
// last 30 days" on a 1M-event index: a page of 100 rows (101 fetched, as the
// API does to know whether there is a next page), newest first, in a 30-day
// window at a random point of the 400 days the events span. "busiest" asks
// about the actor of about a quarter of all events; "zipf" about an actor
// drawn from the same skewed distribution as the data. Latency percentiles
// are reported as p50-ms, p95-ms and p99-ms.
func BenchmarkQuery(b *testing.B) {
	b.Run("SQLite", func(b *testing.B) { benchQueries(b, benchSQLite(b)) })
	b.Run("Postgres", func(b *testing.B) { benchQueries(b, benchPostgres(b)) })
}

// benchPostgres returns a 1M-event index in a fresh PostgreSQL database
// (COPY, about half a minute), analyzed as autovacuum would have done.
func benchPostgres(b *testing.B) *Postgres {
	p, err := OpenPostgres(b.Context(), pgtest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	start := time.Now()
	genEvents(b, benchEvents, 2).fill(b, p)
	if _, err := p.pool.Exec(b.Context(), `ANALYZE index_entries`); err != nil {
		b.Fatal(err)
	}
	b.Logf("built the benchmark index in %v", time.Since(start))
	return p
}

func benchQueries(b *testing.B, s Store) {
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
				q := Query{Filter: Filter{ActorID: actor, Since: until.Add(-30 * 24 * time.Hour), Until: until}, Below: benchEvents, Limit: 101}
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
