// Package prune decides how far a log's left edge may move under a
// retention policy, legal holds and an archive, and moves it: the log's
// minimum index advances (ledger.Pruner), the query index drops the rows
// below it, and a retention.pruned event says what the run did.
//
// An entry may leave the hot store when no active legal hold covers it
// and, for every retention rule that matches it, the rule's min has passed
// since its timestamp, or the rule's available has passed and the entry is
// archived. An entry no rule matches is kept forever (so are the entries
// that are not events). The left edge is the first entry that must stay,
// and it never passes the archive's verified size when an archive is
// configured; the new minimum index is the edge rounded down to a whole
// entry bundle (256 entries).
package prune

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/retention"
	"github.com/ledger-dev/ledger/tiles"
)

// Input is what a plan is made from.
type Input struct {
	// Policy is the retention policy. Required.
	Policy *retention.Policy
	// Holds are the legal holds (released ones block nothing).
	Holds []hold.Hold
	// Now is the time the periods are judged at.
	Now time.Time
	// Minimum is the log's minimum index now; the plan starts there.
	Minimum uint64
	// Size is the log's committed size: the edge never passes it.
	Size uint64
	// Archive, if set, is the archive's verified checkpoint size: the
	// entries below it are archived, and the edge never passes it. Nil
	// when no archive is configured.
	Archive *uint64
	// Full makes the plan read and sort every indexed entry, as a dry run
	// reports them; without it the plan stops reading at the edge.
	Full bool
}

// Plan is where the left edge may go and why it stops there.
type Plan struct {
	// Previous is the minimum index the plan started from.
	Previous uint64 `json:"previous_minimum_index"`
	// Indexed is the end of the entries the plan read (from Previous).
	Indexed uint64 `json:"indexed"`
	// Edge is the first entry that must stay: entries from Previous up to
	// it may go.
	Edge uint64 `json:"edge"`
	// MinimumIndex is the new minimum index: Edge rounded down to a
	// multiple of 256, never below Previous.
	MinimumIndex uint64 `json:"minimum_index"`
	// Stop says why the edge stops at Edge; empty if every entry read may
	// go (the edge is then at the end of the index).
	Stop string `json:"stop,omitempty"`
	// Of the entries from Edge on that the plan read (all of them with
	// Input.Full; otherwise only the first):
	// KeptByRule counts those not old enough, by the rule (1-based)
	// whose period ends last; Kept is the same, in rule order.
	KeptByRule map[int]int `json:"-"`
	Kept       []RuleCount `json:"kept_by_rule,omitempty"`
	// Held counts those old enough but under a legal hold, by hold ID;
	// Holds is the same, in ID order.
	Held  map[string]int `json:"-"`
	Holds []HoldCount    `json:"held,omitempty"`
	// Forever counts those no rule matches, and those that are not events.
	Forever int `json:"forever,omitempty"`
	// NotArchived counts those old enough and not held, but not in the
	// archive yet.
	NotArchived int `json:"not_archived,omitempty"`
	// Stranded counts those that may go, but sit behind the edge.
	Stranded int `json:"stranded,omitempty"`
}

// RuleCount is how many entries a rule keeps.
type RuleCount struct {
	Rule    int `json:"rule"`
	Entries int `json:"entries"`
}

// HoldCount is how many entries a legal hold keeps.
type HoldCount struct {
	Hold    string `json:"hold"`
	Entries int    `json:"entries"`
}

// Entries returns how many entries the plan prunes.
func (p *Plan) Entries() uint64 { return p.MinimumIndex - p.Previous }

// Querier reads the query index (an index.Store).
type Querier interface {
	Query(ctx context.Context, q index.Query) ([]index.Row, error)
}

// page is how many rows a plan reads at a time.
const page = 4096

// Decide reads the query index from in.Minimum on, in index order, and
// returns the plan. Entries not yet in the index are not considered: the
// edge stops at the end of the index at the latest.
func Decide(ctx context.Context, idx Querier, in Input) (*Plan, error) {
	d := decider{in: in, effective: map[[2]string]retention.Effective{},
		plan: Plan{Previous: in.Minimum, Indexed: in.Minimum, Edge: in.Minimum, KeptByRule: map[int]int{}, Held: map[string]int{}}}
	q := index.Query{Order: index.ByIndex, Limit: page, Below: in.Size}
	if in.Minimum > 0 {
		q.After = &index.Cursor{Index: in.Minimum - 1}
	}
	for {
		rows, err := idx.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the query index: %w", err)
		}
		for _, r := range rows {
			if r.Index != d.plan.Indexed {
				d.stop(r.Index, "no row in the query index for it")
				return d.done(), nil
			}
			d.add(r)
			if d.plan.Stop != "" && !in.Full {
				return d.done(), nil
			}
		}
		if len(rows) < q.Limit {
			return d.done(), nil
		}
		q.After = &index.Cursor{Index: rows[len(rows)-1].Index}
	}
}

// decider makes a plan, row by row.
type decider struct {
	in        Input
	plan      Plan
	effective map[[2]string]retention.Effective // by tenant and event type
}

// add sorts the next row into what may go or why it stays.
func (d *decider) add(r index.Row) {
	p := &d.plan
	p.Indexed = r.Index + 1
	c := r.Columns
	key := [2]string{c.TenantID, c.EventType}
	e, ok := d.effective[key]
	if !ok {
		e = d.in.Policy.For(c.TenantID, c.EventType)
		d.effective[key] = e
	}
	archived := d.in.Archive != nil && r.Index < *d.in.Archive
	until, rule := e.HotUntil(c.Time, archived)
	// Could it go if it were archived? (Its available has passed.)
	notArchived := d.in.Archive != nil && !archived
	if notArchived {
		ua, _ := e.HotUntil(c.Time, true)
		notArchived = !d.in.Now.Before(ua)
	}
	var why string
	switch {
	case c.Action == "" || rule == 0: // every event has an action; other entries have no columns
		p.Forever++
		why = "no rule matches it: kept forever"
	case d.in.Now.Before(until) && !notArchived:
		p.KeptByRule[rule]++
		why = fmt.Sprintf("rule %d keeps it in the hot store until %s", rule, until.UTC().Format(time.RFC3339))
	case d.held(r, &why):
	case notArchived:
		p.NotArchived++
		why = fmt.Sprintf("it is not archived yet (the archive holds %d entries)", *d.in.Archive)
	case p.Stop == "":
		p.Edge = r.Index + 1
		return
	default:
		p.Stranded++
		return
	}
	d.stop(r.Index, why)
}

// held counts r under the active holds that cover it, if any, and says so
// in why.
func (d *decider) held(r index.Row, why *string) bool {
	c := r.Columns
	by := hold.Blocking(d.in.Holds, hold.Scope{TenantID: c.TenantID, ActorID: c.ActorID, ResourceType: c.ResourceType, ResourceID: c.ResourceID})
	for _, h := range by {
		d.plan.Held[h.ID]++
	}
	if len(by) > 0 {
		*why = fmt.Sprintf("legal hold %s (%s) covers it", by[0].ID, by[0].Reason)
	}
	return len(by) > 0
}

// stop records the first entry that stays, and why.
func (d *decider) stop(i uint64, why string) {
	if d.plan.Stop == "" {
		d.plan.Stop = fmt.Sprintf("entry %d, which stays: %s", i, why)
	}
}

// done rounds the edge down to a whole bundle and returns the plan.
func (d *decider) done() *Plan {
	p := d.plan
	p.MinimumIndex = max(p.Previous, p.Edge/tiles.TileWidth*tiles.TileWidth)
	for _, n := range slices.Sorted(maps.Keys(p.KeptByRule)) {
		p.Kept = append(p.Kept, RuleCount{Rule: n, Entries: p.KeptByRule[n]})
	}
	for _, id := range slices.Sorted(maps.Keys(p.Held)) {
		p.Holds = append(p.Holds, HoldCount{Hold: id, Entries: p.Held[id]})
	}
	return &p
}
