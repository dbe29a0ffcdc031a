// Package indextest is the contract suite of the query index's backends:
// each backend's tests run Run against it, on a real database. The suite
// checks compare-and-swap appends, every query form paged with cursors
// against a brute-force scan of a generated log, the failed-attempts
// report, and a Follower, Verify and Rebuild over a real ledger. Fill and
// BenchmarkQuery give backends the same generated data for their own tests
// and benchmarks.
package indextest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/index"
)

// Backend is an index backend under test: a Store that also answers the
// failed-attempts report.
type Backend interface {
	index.Store
	Failures(ctx context.Context, q index.FailureQuery) ([]index.Failure, error)
}

// Opened is a fresh, empty backend.
type Opened struct {
	Backend
	// Exec runs a SQL statement ($1, $2, ... placeholders) on the
	// backend's database behind the index's back: the suite forges and
	// deletes rows with it to check that Verify finds them.
	Exec func(ctx context.Context, sql string, args ...any) error
}

// Opener returns a fresh, empty backend, closed when the test ends.
type Opener func(t *testing.T) Opened

// Run runs the contract suite against a backend. n is the size of the
// generated log the queries are checked on.
func Run(t *testing.T, open Opener, n int) {
	t.Run("AppendCompareAndSwap", func(t *testing.T) { testAppendCAS(t, open(t)) })
	t.Run("QueriesMatchBruteForce", func(t *testing.T) { testQueriesMatchScan(t, open(t), n) })
	t.Run("FollowVerifyRebuild", func(t *testing.T) { testFollowVerifyRebuild(t, open(t)) })
	t.Run("ConcurrentFollowers", func(t *testing.T) { testConcurrentFollowers(t, open(t)) })
	t.Run("AdoptAnotherLog", func(t *testing.T) { testAdoptAnotherLog(t, open(t)) })
	t.Run("FollowPruned", func(t *testing.T) { testFollowPruned(t, open(t)) })
}

func testAppendCAS(t *testing.T, s Opened) {
	ctx := t.Context()
	d := genEvents(t, 600, 1)
	if size, err := s.Size(ctx); err != nil || size != 0 {
		t.Fatalf("new index: size %d, %v; want 0", size, err)
	}
	if err := s.Append(ctx, 0, d.rows(t, 0, 300)); err != nil {
		t.Fatal(err)
	}
	for _, from := range []uint64{0, 200, 301} {
		if err := s.Append(ctx, from, d.rows(t, int(from), int(from)+10)); !errors.Is(err, index.ErrConflict) {
			t.Errorf("append at %d to an index of size 300: %v, want index.ErrConflict", from, err)
		}
	}
	if err := s.Append(ctx, 300, d.rows(t, 301, 310)); err == nil || errors.Is(err, index.ErrConflict) {
		t.Errorf("append of rows 301.. at 300: %v, want a numbering error", err)
	}
	if err := s.Append(ctx, 300, d.rows(t, 300, 600)); err != nil {
		t.Fatal(err)
	}
	if size, err := s.Size(ctx); err != nil || size != 600 {
		t.Fatalf("size %d, %v; want 600", size, err)
	}
	got, err := s.Query(ctx, index.Query{Below: 1000, Order: index.ByIndex, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := d.rows(t, 0, 600)
	if len(got) != len(want) {
		t.Fatalf("%d rows back, want %d", len(got), len(want))
	}
	for i := range got {
		if !sameRow(got[i], want[i]) {
			t.Fatalf("row %d came back as %+v, want %+v", i, got[i], want[i])
		}
	}
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if size, err := s.Size(ctx); err != nil || size != 0 {
		t.Fatalf("after Reset: size %d, %v; want 0", size, err)
	}
	if got, err := s.Query(ctx, index.Query{Below: 1000, Order: index.ByIndex, Limit: 10}); err != nil || len(got) != 0 {
		t.Fatalf("after Reset: %d rows, %v", len(got), err)
	}
}

// sameRow reports whether a and b hold the same entry and columns, with a's
// timestamp in UTC.
func sameRow(a, b index.Row) bool {
	ac, bc := a.Columns, b.Columns
	ac.Time, bc.Time, ac.Received, bc.Received = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a.Index == b.Index && a.LeafHash == b.LeafHash && string(a.Leaf) == string(b.Leaf) &&
		ac == bc && a.Time.Equal(b.Time) && a.Time.Location() == time.UTC && a.Received.Equal(b.Received) && a.Received.Location() == time.UTC
}

// testQueriesMatchScan fills the index with n generated events and checks
// that paging through each query returns exactly what a scan of the events
// finds, in the same order.
func testQueriesMatchScan(t *testing.T, s Opened, n int) {
	d := genEvents(t, n, 2)
	start := time.Now()
	d.fill(t, s)
	t.Logf("indexed %d events in %v", n, time.Since(start))
	day := 24 * time.Hour
	mid := genBase.Add(genSpan / 2)
	below := uint64(n - n/10) // the last tenth is not published yet
	queries := map[string]index.Query{
		"busiest actor, 30 days":      {Filter: index.Filter{ActorID: "user-1", Since: mid.Add(-30 * day), Until: mid}, Limit: 100},
		"busiest actor, whole log":    {Filter: index.Filter{ActorID: "user-1"}, Limit: 1000},
		"rare actor, whole log":       {Filter: index.Filter{ActorID: "user-4000"}, Limit: 3},
		"resource history":            {Filter: index.Filter{ResourceType: "patient", ResourceID: "r-1"}, Limit: 50},
		"failures in a week":          {Filter: index.Filter{Result: "failure", Since: mid, Until: mid.Add(7 * day)}, Limit: 200},
		"tenant and action":           {Filter: index.Filter{TenantID: "tenant-3", Action: "export", Since: mid, Until: mid.Add(20 * day)}, Limit: 100},
		"event type, oldest first":    {Filter: index.Filter{EventType: "invoice.delete", Since: mid}, Order: index.OldestFirst, Limit: 500},
		"actor type and since only":   {Filter: index.Filter{ActorType: "admin", Since: mid}, Limit: 100},
		"time window, no filter":      {Filter: index.Filter{Since: mid, Until: mid.Add(day)}, Limit: 64},
		"by index":                    {Filter: index.Filter{ActorID: "user-2"}, Order: index.ByIndex, Limit: 999},
		"nothing matches":             {Filter: index.Filter{ActorID: "nobody"}, Limit: 10},
		"sub-microsecond window edge": {Filter: index.Filter{Since: d.events[n/2].Timestamp, Until: d.events[n/2].Timestamp.Add(time.Microsecond)}, Limit: 10},
		"received in a week":          {Filter: index.Filter{Since: mid, Until: mid.Add(7 * day), By: index.ByReceived}, Limit: 100},
		"actor by received, oldest":   {Filter: index.Filter{ActorID: "user-1", By: index.ByReceived}, Order: index.OldestFirst, Limit: 100},
		"one token's events":          {Filter: index.Filter{SubmitterTokenID: "0000000000000003", Since: mid}, Limit: 100},
		"received, whole log":         {Filter: index.Filter{By: index.ByReceived}, Limit: 500},
	}
	for _, name := range slices.Sorted(maps.Keys(queries)) {
		q := queries[name]
		q.Below = below
		want := d.scan(q)
		got := pageAll(t, s, q, 30)
		if len(want) > len(got) {
			want = want[:len(got)] // pageAll stopped after 30 pages
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: index answered %d rows %v..., scan %d rows %v...", name, len(got), head(got), len(want), head(want))
		}
		if len(got) == 0 && name != "nothing matches" {
			t.Errorf("%s: no rows; the query tests nothing", name)
		}
	}
	testFailuresMatchScan(t, s, d, below)
}

// pageAll pages through q with keyset cursors, at most pages pages, and
// returns the indexes in the order they came.
func pageAll(t *testing.T, s index.Store, q index.Query, pages int) []uint64 {
	var out []uint64
	for range pages {
		rows, err := s.Query(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out = append(out, r.Index)
		}
		if len(rows) < q.Limit {
			break
		}
		c := index.CursorOf(rows[len(rows)-1], q.By)
		q.After = &c
	}
	return out
}

func head(s []uint64) []uint64 { return s[:min(len(s), 5)] }

func testFailuresMatchScan(t *testing.T, s Opened, d *dataset, below uint64) {
	mid := genBase.Add(genSpan / 2)
	q := index.FailureQuery{Filter: index.Filter{Since: mid, Until: mid.Add(30 * 24 * time.Hour), Result: "success"}, Below: below, Threshold: 3, Limit: 10000}
	got, err := s.Failures(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ typ, id string }
	want := map[key]*index.Failure{}
	f := q.Filter
	f.Result = ""
	for i, ev := range d.events {
		if uint64(i) >= below || !matches(ev, f) || (ev.Result != "failure" && ev.Result != "denied") {
			continue
		}
		k := key{ev.Actor.Type, ev.Actor.ID}
		ts := micro(ev.Timestamp)
		w := want[k]
		if w == nil {
			w = &index.Failure{ActorType: k.typ, ActorID: k.id, First: ts, Last: ts}
			want[k] = w
		}
		w.Count++
		w.First = minTime(w.First, ts)
		w.Last = maxTime(w.Last, ts)
	}
	n := 0
	for _, w := range want {
		if w.Count >= q.Threshold {
			n++
		}
	}
	if len(got) != n || n == 0 {
		t.Fatalf("%d actors over the threshold, scan finds %d", len(got), n)
	}
	for i, g := range got {
		w := want[key{g.ActorType, g.ActorID}]
		if w == nil || w.Count != g.Count || !w.First.Equal(g.First) || !w.Last.Equal(g.Last) {
			t.Errorf("failures of %s/%s: index %+v, scan %+v", g.ActorType, g.ActorID, g, w)
		}
		if i > 0 && got[i-1].Count < g.Count {
			t.Errorf("actors not ordered by count: %d before %d", got[i-1].Count, g.Count)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
