package indextest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
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

// Sized is a backend under benchmark and a way to measure it: Bytes
// returns the bytes the index takes on disk (tables, secondary indexes,
// write-ahead log) after flushing what it buffers.
type Sized struct {
	index.Store
	Bytes func(ctx context.Context) (int64, error)
}

// followStep is how many new entries one step of BenchmarkFollow indexes:
// what a follower polling every 250 ms finds at about 65,000 appends/s.
const followStep = 16 * 1024

// BenchmarkFollow measures the follower's cost per entry: each iteration
// opens an empty backend and has a Follower index the followStep entries
// of a real posix log (reading the entry bundles, parsing each event,
// hashing its leaf and appending the rows). It reports ns/entry,
// allocs/entry and the backend's index-bytes/entry.
func BenchmarkFollow(b *testing.B, open func(b *testing.B) Sized) {
	tl := newTestLog(b)
	tl.append(b, genEvents(b, followStep, 9).leaves)
	var s Sized
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		s = open(b)
		f, err := index.NewFollower(index.FollowerConfig{Store: s, Log: index.StorageLog(tl.store), Size: tl.size})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := cpuTime(b)
		if n, err := f.Sync(b.Context()); err != nil || n != followStep {
			b.Fatalf("Sync: %d, %v", n, err)
		}
		cpu += cpuTime(b) - start
	}
	report(b, s, followStep, cpu)
}

// BenchmarkFill measures how large an index of n generated events is: each
// iteration appends them to an empty backend in pages of fillRows rows, and
// the last one reports index-bytes/entry (and ns/entry of the appends,
// generation included).
func BenchmarkFill(b *testing.B, open func(b *testing.B) Sized, n int) {
	d := genEvents(b, n, 2)
	var s Sized
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		s = open(b)
		b.StartTimer()
		start := cpuTime(b)
		d.fill(b, s)
		cpu += cpuTime(b) - start
	}
	report(b, s, n, cpu)
}

// report reports the wall and CPU time per entry of b's iterations of n
// entries each, and the index bytes per entry of s.
func report(b *testing.B, s Sized, n int, cpu time.Duration) {
	entries := float64(b.N * n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/entries, "ns/entry")
	b.ReportMetric(float64(cpu.Nanoseconds())/entries, "cpu-ns/entry")
	bytes, err := s.Bytes(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(bytes)/float64(n), "index-bytes/entry")
}

// cpuTime returns the CPU time (user and system) the process has used: on
// a machine shared with other work, a steadier figure than the wall time.
// A backend's server (PostgreSQL) is another process and not counted.
func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
