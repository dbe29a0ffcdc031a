package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/index"
	pgindex "github.com/ledger-dev/ledger/ledger/index/postgres"
	"github.com/ledger-dev/ledger/ledger/retention"
)

const pruneUsage = `usage: ledger prune --dry-run --data DIR --config FILE [--postgres URL]

Shows what pruning the log's left edge would remove under the retention
policy of FILE and the legal holds of DIR/holds.json, and why the rest
stays: per rule, per hold. It reads the query index (DIR/index.sqlite, or
the one in --postgres) and removes nothing: pruning itself is not built yet
(docs/retention.md).

`

// pruneScan is what a dry run found, over the indexed entries in order.
type pruneScan struct {
	indexed uint64
	edge    uint64 // entries below it may go
	stop    string // why the edge stops where it does, if it is not at the end
	// Of the entries at or past the edge:
	keptByRule map[int]int    // not yet past the min of this rule
	held       map[string]int // deletable, but under this hold
	forever    int            // no rule matches (or not an event)
	stranded   int            // deletable and not held, behind the edge
}

// add sorts the next row (in index order, from 0) into what may go (the
// run from entry 0 of entries every matching rule lets go and no active
// hold covers) or why it stays.
func (s *pruneScan) add(r index.Row, p *retention.Policy, holds []hold.Hold, now time.Time) {
	s.indexed = r.Index + 1
	c := r.Columns
	e := p.For(c.TenantID, c.EventType)
	until, rule := e.KeepUntil(c.Time)
	by := hold.Blocking(holds, hold.Scope{TenantID: c.TenantID, ActorID: c.ActorID, ResourceType: c.ResourceType, ResourceID: c.ResourceID})
	var why string
	switch {
	case c.EventType == "" || rule == 0:
		s.forever++
		why = "no rule matches it: kept forever"
	case now.Before(until):
		s.keptByRule[rule]++
		why = fmt.Sprintf("rule %d keeps it until %s", rule, until.UTC().Format(time.RFC3339))
	case len(by) > 0:
		for _, h := range by {
			s.held[h.ID]++
		}
		why = fmt.Sprintf("legal hold %s (%s) covers it", by[0].ID, by[0].Reason)
	case s.stop == "":
		s.edge = r.Index + 1
		return
	default:
		s.stranded++
		return
	}
	if s.stop == "" {
		s.stop = fmt.Sprintf("entry %d, which stays: %s", r.Index, why)
	}
}

// cmdPrune runs `ledger prune --dry-run`.
func cmdPrune(ctx context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
	fs := newFlags("prune")
	fs.Usage = usageText(fs, pruneUsage)
	dryRun := fs.Bool("dry-run", false, "show what would go and why the rest stays; required (pruning itself is not built yet)")
	data := fs.String("data", "", "the ledger's data directory (its holds.json, and index.sqlite without --postgres)")
	configFile := fs.String("config", "", "the serve configuration `FILE` with the retention policy")
	pgURL := fs.String("postgres", "", "the PostgreSQL database of the query index, for a ledger served with --postgres")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case !*dryRun:
		return fmt.Errorf("%w: only --dry-run exists: pruning is not built yet (docs/retention.md)", errUsage)
	case *data == "" || *configFile == "":
		return fmt.Errorf("%w: --data and --config are required", errUsage)
	}
	conf, err := loadConfig(*configFile)
	if err != nil {
		return err
	}
	holds, err := hold.Open(filepath.Join(*data, hold.FileName)).List()
	if err != nil {
		return err
	}
	var pg pgindex.Config
	if *pgURL != "" {
		pg.DSN = *pgURL
	}
	idx, err := openIndex(ctx, filepath.Join(*data, "index.sqlite"), pg)
	if err != nil {
		return fmt.Errorf("couldn't open the query index: %w", err)
	}
	defer idx.Close()
	s := pruneScan{keptByRule: map[int]int{}, held: map[string]int{}}
	now := time.Now()
	q := index.Query{Order: index.ByIndex, Limit: 1000, Below: math.MaxInt64}
	for {
		rows, err := idx.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("couldn't read the query index: %w", err)
		}
		for _, r := range rows {
			s.add(r, conf.policy, holds, now)
		}
		if len(rows) < q.Limit {
			break
		}
		q.After = &index.Cursor{Index: rows[len(rows)-1].Index}
	}
	return s.print(stdout, conf.policy, holds)
}

// print writes the dry run's findings.
func (s *pruneScan) print(w io.Writer, p *retention.Policy, holds []hold.Hold) error {
	fmt.Fprintf(w, "dry run: nothing is removed\nindexed entries: %d (entries not yet in the query index are not considered)\n", s.indexed)
	if s.edge == 0 {
		fmt.Fprintln(w, "would prune: nothing")
	} else {
		fmt.Fprintf(w, "would prune: entries 0 to %d (%d entries); the minimum index would become %d\n", s.edge-1, s.edge, s.edge)
	}
	if s.stop == "" {
		_, err := fmt.Fprintln(w, "every indexed entry may go")
		return err
	}
	fmt.Fprintf(w, "the left edge stops at %s\nentries that stay: %d\n", s.stop, s.indexed-s.edge)
	rules := p.Rules()
	for _, n := range slices.Sorted(maps.Keys(s.keptByRule)) {
		r := rules[n-1]
		fmt.Fprintf(w, "  %d kept by rule %d (tenant %s, event_type %s, min %s): not old enough\n", s.keptByRule[n], n, r.Tenant, r.EventType, r.Min)
	}
	for _, h := range holds {
		if n := s.held[h.ID]; n > 0 {
			fmt.Fprintf(w, "  %d old enough, held by legal hold %s (%s)\n", n, h.ID, h.Reason)
		}
	}
	if s.forever > 0 {
		fmt.Fprintf(w, "  %d kept forever: no rule matches them\n", s.forever)
	}
	_, err := fmt.Fprintf(w, "  %d old enough and not held, but behind the left edge (docs/retention.md#mixed-retention-in-one-log)\n", s.stranded)
	return err
}
