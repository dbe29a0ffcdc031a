package prune_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/index/sqlite"
	"github.com/ledger-dev/ledger/ledger/prune"
	"github.com/ledger-dev/ledger/ledger/retention"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// planIndex is a real SQLite index of 801 events stamped t0: tenant a's
// at 0-299, tenant p's at 300-799 (actor u-held's at 500), and one of
// tenant z, which no rule matches, at 800.
func planIndex(t *testing.T) *sqlite.Index {
	idx, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "index.sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	pipeline := event.NewPipeline(event.PipelineConfig{Now: func() time.Time { return t0 }})
	var rows []index.Row
	for i := range 801 {
		tenant, actor := "a", "u-1"
		switch {
		case i == 800:
			tenant = "z"
		case i >= 300:
			tenant = "p"
		}
		if i == 500 {
			actor = "u-held"
		}
		entries, err := pipeline.PrepareOwn(&event.Event{TenantID: tenant, Timestamp: t0, EventType: "doc.read", Action: "read",
			Actor: event.Actor{ID: actor, Type: "user"}, Resource: event.Resource{Type: "doc"}, Result: "success"})
		if err != nil {
			t.Fatal(err)
		}
		r, ok := index.NewRow(uint64(i), entries[0].Leaf)
		if !ok {
			t.Fatal("not an event")
		}
		rows = append(rows, r)
	}
	if err := idx.Append(t.Context(), 0, rows); err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestDecide checks where the edge stops, and why, against a real index:
// a min not passed, a hold, an archive too short, an event no rule
// matches; and that the minimum index is the edge in whole bundles.
func TestDecide(t *testing.T) {
	hour, _ := retention.ParsePeriod("1h")
	tenHours, _ := retention.ParsePeriod("10h")
	policy, err := retention.New([]retention.Rule{{Tenant: "a", Min: hour}, {Tenant: "p", Min: tenHours, Available: hour}})
	if err != nil {
		t.Fatal(err)
	}
	idx := planIndex(t)
	archive := func(n uint64) *uint64 { return &n }
	held := []hold.Hold{{ID: "h1", Scope: hold.Scope{ActorID: "u-held"}, Reason: "case 3"},
		{ID: "h0", Scope: hold.Scope{ActorID: "u-1"}, Reason: "released", Released: t0}}
	for _, c := range []struct {
		name    string
		in      prune.Input
		edge    uint64
		minimum uint64
		stop    string
	}{
		{"min not passed", prune.Input{Now: t0.Add(30 * time.Minute)}, 0, 0, "entry 0, which stays: rule 1 keeps it in the hot store until 2026-06-01T13:00:00Z"},
		{"no archive: p's min", prune.Input{Now: t0.Add(2 * time.Hour)}, 300, 256, "entry 300, which stays: rule 2 keeps it in the hot store until 2026-06-01T22:00:00Z"},
		{"archive too short", prune.Input{Now: t0.Add(2 * time.Hour), Archive: archive(600)}, 600, 512, "entry 600, which stays: it is not archived yet (the archive holds 600 entries)"},
		{"from a minimum index, not old enough", prune.Input{Now: t0.Add(30 * time.Minute), Archive: archive(900), Minimum: 256}, 256, 256, "entry 256, which stays: rule 1 keeps it in the hot store until 2026-06-01T13:00:00Z"},
		{"archived: to the forever event", prune.Input{Now: t0.Add(2 * time.Hour), Archive: archive(900)}, 800, 768, "entry 800, which stays: no rule matches it: kept forever"},
		{"every min passed, no archive", prune.Input{Now: t0.Add(11 * time.Hour)}, 800, 768, "entry 800, which stays: no rule matches it: kept forever"},
		{"held", prune.Input{Now: t0.Add(11 * time.Hour), Holds: held}, 500, 256, "entry 500, which stays: legal hold h1 (case 3) covers it"},
		{"from a minimum index", prune.Input{Now: t0.Add(11 * time.Hour), Holds: held, Minimum: 256}, 500, 256, "legal hold h1"},
		{"beyond the committed size", prune.Input{Now: t0.Add(11 * time.Hour), Size: 700}, 700, 512, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.in.Policy = policy
			if c.in.Size == 0 {
				c.in.Size = 801
			}
			p, err := prune.Decide(context.Background(), idx, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if p.Edge != c.edge || p.MinimumIndex != c.minimum || !strings.Contains(p.Stop, c.stop) || (c.stop == "") != (p.Stop == "") {
				t.Fatalf("edge %d, minimum index %d, stop %q; want %d, %d, %q", p.Edge, p.MinimumIndex, p.Stop, c.edge, c.minimum, c.stop)
			}
			if p.Entries() != c.minimum-c.in.Minimum {
				t.Fatalf("Entries() = %d, want %d", p.Entries(), c.minimum-c.in.Minimum)
			}
		})
	}
	// A full plan sorts every entry past the edge.
	p, err := prune.Decide(context.Background(), idx, prune.Input{Policy: policy, Now: t0.Add(2 * time.Hour), Archive: archive(600), Size: 801, Full: true, Holds: held})
	if err != nil {
		t.Fatal(err)
	}
	// 0-499 may go; 500 is held; 501-599 are archived and may go, behind
	// the edge; 600-799 could go, but are not archived; 800 is kept forever.
	want := prune.Plan{Previous: 0, Indexed: 801, Edge: 500, MinimumIndex: 256, Held: map[string]int{"h1": 1}, Forever: 1, NotArchived: 200, Stranded: 99}
	if p.Indexed != want.Indexed || p.Edge != want.Edge || p.Forever != want.Forever || p.Stranded != want.Stranded || p.NotArchived != want.NotArchived ||
		len(p.KeptByRule) != 0 || p.Held["h1"] != 1 || len(p.Holds) != 1 || p.Holds[0] != (prune.HoldCount{Hold: "h1", Entries: 1}) {
		t.Fatalf("full plan: %+v, want %+v", p, want)
	}
}
