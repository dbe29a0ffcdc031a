package indextest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/index"
)

// dataset is a generated log: leaves written by event.Leaf and the events
// they encode, index for index.
type dataset struct {
	leaves [][]byte
	events []*event.Event
}

// genBase is the timestamp of the first generated event.
var genBase = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// genSpan is the time the generated events cover.
const genSpan = 400 * 24 * time.Hour

// genEvents generates n events the way a busy application would log them:
// a few actors do most of the work (Zipf), results are mostly successes,
// timestamps grow with the index but arrive up to two days out of order,
// with nanosecond digits that the index truncates. The ledger received them
// in index order, from one of eight writer tokens (leaf version 2); every
// 97th is a version 1 leaf, written before version 2, with neither.
func genEvents(tb testing.TB, n int, seed uint64) *dataset {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	actors := rand.NewZipf(r, 1.3, 1, 4999)
	resources := rand.NewZipf(r, 1.1, 1, 19999)
	actions := []string{"read", "update", "create", "delete", "login", "export"}
	types := []string{"document", "patient", "invoice", "user", "report"}
	d := &dataset{leaves: make([][]byte, n), events: make([]*event.Event, n)}
	step := genSpan / time.Duration(n)
	for i := range n {
		a := actions[r.IntN(len(actions))]
		result := "success"
		switch p := r.IntN(100); {
		case p < 10:
			result = "failure"
		case p < 15:
			result = "denied"
		}
		actor := actors.Uint64()
		jitter := time.Duration(r.Int64N(int64(4*24*time.Hour))) - 2*24*time.Hour
		ev := &event.Event{
			ID:        fmt.Sprintf("evt-%08d", i),
			Timestamp: genBase.Add(time.Duration(i)*step + jitter).Add(time.Duration(r.IntN(1000))),
			TenantID:  fmt.Sprintf("tenant-%d", actor%10),
			EventType: types[i%len(types)] + "." + a,
			Action:    a,
			Actor:     event.Actor{ID: fmt.Sprintf("user-%d", actor), Type: event.ActorTypes[actor%3]},
			Resource:  event.Resource{Type: types[r.IntN(len(types))], ID: fmt.Sprintf("r-%d", resources.Uint64())},
			Result:    result,
			Source:    "web",
			IPAddress: fmt.Sprintf("10.0.%d.%d", r.IntN(256), r.IntN(256)),
		}
		if i%97 != 0 {
			ev.ReceivedAt = genBase.Add(time.Duration(i)*step + time.Duration(i%1000)) // no draw: the other fields stay as they were
			ev.Submitter = event.TokenSubmitter(fmt.Sprintf("%016x", actor%8), "writer", "")
		}
		leaf, err := ev.Leaf()
		if err != nil {
			tb.Fatal(err)
		}
		d.leaves[i], d.events[i] = leaf, ev
	}
	return d
}

// rows returns the index rows of entries from up to to.
func (d *dataset) rows(tb testing.TB, from, to int) []index.Row {
	tb.Helper()
	rows := make([]index.Row, 0, to-from)
	for i := from; i < to; i++ {
		r, ok := index.NewRow(uint64(i), d.leaves[i])
		if !ok {
			tb.Fatalf("generated leaf %d is not an event", i)
		}
		rows = append(rows, r)
	}
	return rows
}

// fillRows is how many rows fill appends at a time.
const fillRows = 4096

// fill appends the dataset's rows to s.
func (d *dataset) fill(tb testing.TB, s index.Store) {
	tb.Helper()
	for from := 0; from < len(d.leaves); from += fillRows {
		to := min(from+fillRows, len(d.leaves))
		if err := s.Append(tb.Context(), uint64(from), d.rows(tb, from, to)); err != nil {
			tb.Fatalf("append at %d: %v", from, err)
		}
	}
}

// Fill appends the rows of n generated events to the empty index s: the
// log a busy application would write (a few actors do most of the work,
// results are mostly successes, timestamps arrive out of order), the same
// for the same seed.
func Fill(tb testing.TB, s index.Store, n int, seed uint64) { genEvents(tb, n, seed).fill(tb, s) }

// matches is the brute-force filter: it reads the event, not the row.
func matches(ev *event.Event, f index.Filter) bool {
	for _, c := range []struct{ want, got string }{
		{f.ActorID, ev.Actor.ID}, {f.ActorType, ev.Actor.Type}, {f.Action, ev.Action}, {f.EventType, ev.EventType},
		{f.ResourceType, ev.Resource.Type}, {f.ResourceID, ev.Resource.ID}, {f.Result, ev.Result}, {f.TenantID, ev.TenantID},
		{f.SubmitterTokenID, ev.Submitter.TokenID},
	} {
		if c.want != "" && c.want != c.got {
			return false
		}
	}
	us := timeOf(ev, f.By).UnixMicro()
	return (f.Since.IsZero() || us >= f.Since.UnixMicro()) && (f.Until.IsZero() || us < f.Until.UnixMicro())
}

// timeOf is the time of ev that by names.
func timeOf(ev *event.Event, by index.TimeColumn) time.Time {
	if by == index.ByReceived {
		return ev.ReceivedAt
	}
	return ev.Timestamp
}

// scan answers q by reading every event: the indexes it selects, in order,
// all of them (q.Limit and q.After are ignored).
func (d *dataset) scan(q index.Query) []uint64 {
	var out []uint64
	for i, ev := range d.events {
		if uint64(i) < q.Below && matches(ev, q.Filter) {
			out = append(out, uint64(i))
		}
	}
	slices.SortFunc(out, func(a, b uint64) int {
		if q.Order == index.ByIndex {
			return cmp.Compare(a, b)
		}
		ta, tb := timeOf(d.events[a], q.By).UnixMicro(), timeOf(d.events[b], q.By).UnixMicro()
		c := cmp.Compare(ta, tb)
		if c == 0 {
			c = cmp.Compare(a, b)
		}
		if q.Order == index.NewestFirst {
			return -c
		}
		return c
	})
	return out
}

// micro truncates t to the microsecond, in UTC, as the index keeps it.
func micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }
