package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/ledger-dev/ledger/evidence"
	"github.com/ledger-dev/ledger/ledger/archive"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/mirror"
	"github.com/ledger-dev/ledger/tiles"
)

// exportArchive builds the package from the archive at location, with no
// ledger involved: against the checkpoint of the archive's last verified
// run (verified with the log's key), from its authenticated bundles and
// tiles. A range export holds [first, end) (default the whole archive);
// otherwise the entries of the whole archive that the filters q select,
// applied to their leaves.
func (e *exporter) exportArchive(ctx context.Context, location string, isRange bool, first, end uint64, q url.Values) error {
	policy, err := tiles.NewLogPolicy(e.vkey)
	if err != nil {
		return fmt.Errorf("%w: --vkey: %v", errUsage, err)
	}
	st, err := openObjects(ctx, location)
	if err != nil {
		return err
	}
	rec, cp, err := archive.Last(ctx, st, policy)
	if err != nil {
		return fmt.Errorf("the archive %s: %w", location, err)
	}
	e.tree = tiles.NewTree(mirror.Fetcher(st), cp)
	e.pkg.SetCheckpoint([]byte(rec.Checkpoint), cp)
	filtered := len(q) > 1
	if !isRange {
		first, end = 0, cp.Size
	}
	if end > cp.Size {
		return fmt.Errorf("the archive holds entries 0 to %d; the export needs %d", cp.Size, end)
	}
	if !filtered {
		e.pkg.Manifest.Range = &evidence.Range{From: first, To: end}
		e.bar.ChangeMax64(int64(end - first))
		return e.addRange(ctx, first, end, nil)
	}
	f, err := leafFilter(q)
	if err != nil {
		return err
	}
	e.pkg.Manifest.Filters = map[string]string{}
	for k := range q {
		if k != "format" {
			e.pkg.Manifest.Filters[k] = q.Get(k)
		}
	}
	return e.addRange(ctx, 0, cp.Size, func(i uint64, leaf []byte) bool {
		r, ok := index.NewRow(i, leaf)
		return ok && f.Matches(r)
	})
}

// leafFilter is the index.Filter of the export's query parameters (the
// filter flags, with the window setWindow made explicit).
func leafFilter(q url.Values) (index.Filter, error) {
	f := index.Filter{ActorID: q.Get("actor_id"), ActorType: q.Get("actor_type"), Action: q.Get("action"), EventType: q.Get("event_type"),
		ResourceType: q.Get("resource_type"), ResourceID: q.Get("resource_id"), Result: q.Get("result"), TenantID: q.Get("tenant_id"),
		SubmitterTokenID: q.Get("submitter_token_id")}
	switch q.Get("time") {
	case "", "timestamp":
	case "received":
		f.By = index.ByReceived
	default:
		return f, fmt.Errorf("%w: --time %q is not timestamp or received", errUsage, q.Get("time"))
	}
	var err error
	if f.Since, err = time.Parse(time.RFC3339Nano, q.Get("since")); err != nil {
		return f, fmt.Errorf("%w: --since: %v", errUsage, err)
	}
	if f.Until, err = time.Parse(time.RFC3339Nano, q.Get("until")); err != nil {
		return f, fmt.Errorf("%w: --until: %v", errUsage, err)
	}
	return f, nil
}
