package prune

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ledger-dev/ledger/internal/every"
	"github.com/ledger-dev/ledger/internal/jsonfile"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/retention"
	"github.com/ledger-dev/ledger/tiles"
)

// PrunedEventType is the event every run that is not a dry run appends.
const PrunedEventType = "retention.pruned"

// Storage is the log's storage: its committed state, and its left edge.
type Storage interface {
	State(ctx context.Context) (ledger.State, error)
	ledger.Pruner
}

// Index is the query index: read to decide, pruned after the log.
type Index interface {
	Querier
	Prune(ctx context.Context, minimum uint64) error
}

// Config configures a Runner.
type Config struct {
	// Storage is the log's storage. Required.
	Storage Storage
	// Index is the query index. Required.
	Index Index
	// Policy is the retention policy. Required.
	Policy *retention.Policy
	// Holds returns the legal holds. Required.
	Holds func() ([]hold.Hold, error)
	// Archive, if set, returns the archive the log's entries are copied
	// to, its Size the size of its verified checkpoint (an error wrapping
	// tiles.ErrNotFound when nothing is archived yet). Nil when no archive
	// is configured: then only entries whose every min has passed go.
	Archive func(ctx context.Context) (tiles.Archive, error)
	// Append appends one of the ledger's own events, durably. Required.
	Append func(ctx context.Context, e *event.Event) error
	// StateFile records the minimum index the last retention.pruned event
	// logged, so that a prune whose event a crash lost is logged by the
	// next run. Required.
	StateFile string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
}

// Runner runs prunes, one at a time.
type Runner struct {
	cfg Config
	mu  sync.Mutex
}

// New validates cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Storage == nil || cfg.Index == nil || cfg.Policy == nil || cfg.Holds == nil || cfg.Append == nil || cfg.StateFile == "" {
		return nil, errors.New("prune: Config.Storage, Index, Policy, Holds, Append and StateFile are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Runner{cfg: cfg}, nil
}

// Request is one run.
type Request struct {
	// DryRun decides and changes nothing (and appends no event).
	DryRun bool `json:"dry_run"`
	// By says who asked: "schedule", or "token:<id>".
	By string `json:"-"`
}

// Result is what a run decided and did.
type Result struct {
	// DryRun says nothing was changed.
	DryRun bool `json:"dry_run"`
	Plan
	// Entries is how many entries the run pruned (would prune, for a dry
	// run).
	Entries uint64 `json:"entries"`
	// Pruned is how far the log is pruned after the run (would be).
	Pruned tiles.Pruned `json:"pruned"`
}

// Run decides how far the left edge may move and, unless req.DryRun,
// moves it: the storage records the new minimum index and deletes the
// bundles below it, the query index drops its rows, and a
// retention.pruned event says what was done (also when nothing was:
// entries 0, and why). A run that fails after deciding appends the event
// with result "failure" and the error, if it can.
func (r *Runner) Run(ctx context.Context, req Request) (*Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !req.DryRun {
		if err := r.logUnlogged(ctx); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	res, err := r.decide(ctx, req)
	if err != nil || req.DryRun {
		return res, err
	}
	err = r.apply(ctx, res, time.Since(start))
	if aerr := r.record(ctx, res, req.By, err); aerr != nil {
		return nil, errors.Join(err, aerr)
	}
	return res, err
}

// decide makes the plan of a run.
func (r *Runner) decide(ctx context.Context, req Request) (*Result, error) {
	st, err := r.cfg.Storage.State(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := r.cfg.Storage.Pruned(ctx)
	if err != nil {
		return nil, err
	}
	holds, err := r.cfg.Holds()
	if err != nil {
		return nil, fmt.Errorf("couldn't read the legal holds: %w", err)
	}
	in := Input{Policy: r.cfg.Policy, Holds: holds, Now: r.cfg.Now(), Minimum: cur.MinimumIndex, Size: st.Size, Full: req.DryRun}
	next := cur
	if r.cfg.Archive != nil {
		a, err := r.cfg.Archive(ctx)
		switch {
		case errors.Is(err, tiles.ErrNotFound):
			a.Size = 0
		case err != nil:
			// Like storage that cannot be read: nothing is pruned, and a
			// later run tries again.
			return nil, fmt.Errorf("%w: couldn't verify the archive: %w", ledger.ErrStorage, err)
		default:
			next.Archive = &a
		}
		in.Archive = &a.Size
	}
	plan, err := Decide(ctx, r.cfg.Index, in)
	if err != nil {
		return nil, err
	}
	next.MinimumIndex = plan.MinimumIndex
	return &Result{DryRun: req.DryRun, Plan: *plan, Entries: plan.Entries(), Pruned: next}, nil
}

// apply prunes the storage and then the index as res says. The storage
// is pruned even when the minimum index does not move: that completes the
// deletions of a run that died.
func (r *Runner) apply(ctx context.Context, res *Result, decided time.Duration) error {
	start := time.Now()
	if err := r.cfg.Storage.Prune(ctx, res.Pruned); err != nil {
		return err
	}
	// At this point the log refuses the pruned bundles; the query index
	// follows (and its follower drops the rows too, should this fail).
	stored := time.Since(start)
	if err := r.cfg.Index.Prune(ctx, res.Pruned.MinimumIndex); err != nil {
		return err
	}
	if res.Entries > 0 {
		r.cfg.Logger.Info("pruned the log", "previous_minimum_index", res.Previous, "minimum_index", res.Pruned.MinimumIndex, "entries", res.Entries, "stop", res.Stop,
			"took_deciding", decided.Round(time.Millisecond).String(), "took_storage", stored.Round(time.Millisecond).String(),
			"took_index", (time.Since(start) - stored).Round(time.Millisecond).String())
	}
	return nil
}

// loggedState is the document of Config.StateFile.
type loggedState struct {
	MinimumIndex uint64 `json:"minimum_index"`
}

// record appends the run's retention.pruned event, then records its
// minimum index in the state file. The event is durable first: a crash
// between the two logs the range again (as recovered), never not at all.
func (r *Runner) record(ctx context.Context, res *Result, by string, failed error) error {
	e := prunedEvent(res.Previous, res.Pruned, by)
	e.Tags["entries"] = fmt.Sprint(res.Entries)
	stop := res.Stop
	if stop == "" {
		stop = fmt.Sprintf("every indexed entry, up to %d, may go; whole bundles of %d entries are pruned", res.Indexed, tiles.TileWidth)
	}
	e.Tags["stop"] = event.Clip(stop, maxTag)
	if len(res.Holds) > 0 {
		ids := make([]string, len(res.Holds))
		for i, h := range res.Holds {
			ids[i] = h.Hold
		}
		e.Tags["held_by"] = event.Clip(strings.Join(ids, ","), maxTag)
	}
	if failed != nil {
		e.Result = "failure"
		e.Tags["error"] = event.Clip(failed.Error(), maxTag)
		return r.cfg.Append(ctx, e)
	}
	if err := r.cfg.Append(ctx, e); err != nil {
		return fmt.Errorf("the log is pruned to %d, but couldn't append its %s event (the next run appends it): %w", res.Pruned.MinimumIndex, PrunedEventType, err)
	}
	return r.setLogged(res.Pruned.MinimumIndex)
}

// logUnlogged appends the event of a prune the storage recorded but no
// event logged (the process died between the two, or another instance
// pruned the shared storage), with the tag recovered.
func (r *Runner) logUnlogged(ctx context.Context) error {
	cur, err := r.cfg.Storage.Pruned(ctx)
	if err != nil {
		return err
	}
	logged, err := r.logged()
	if err != nil || cur.MinimumIndex <= logged {
		return err
	}
	e := prunedEvent(logged, cur, "recovered")
	e.Tags["entries"] = fmt.Sprint(cur.MinimumIndex - logged)
	e.Tags["recovered"] = "the log was pruned to this minimum index, but no event said so yet (a crash after the prune, or another instance)"
	if err := r.cfg.Append(ctx, e); err != nil {
		return fmt.Errorf("couldn't append the %s event of a prune to %d: %w", PrunedEventType, cur.MinimumIndex, err)
	}
	return r.setLogged(cur.MinimumIndex)
}

// Recover logs a prune that no event logged yet (see Run); serve calls it
// at start.
func (r *Runner) Recover(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logUnlogged(ctx)
}

// logged returns the minimum index the last event logged.
func (r *Runner) logged() (uint64, error) {
	var s loggedState
	err := jsonfile.Update(r.cfg.StateFile, func(b []byte) ([]byte, error) {
		if b == nil {
			return jsonfile.Marshal(s)
		}
		if err := jsonfile.Decode(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", r.cfg.StateFile, err)
		}
		return b, nil
	})
	return s.MinimumIndex, err
}

// setLogged records that events logged the prunes up to minimum.
func (r *Runner) setLogged(minimum uint64) error {
	return jsonfile.Update(r.cfg.StateFile, func([]byte) ([]byte, error) { return jsonfile.Marshal(loggedState{MinimumIndex: minimum}) })
}

// prunedEvent is the retention.pruned event of a move from previous to p.
func prunedEvent(previous uint64, p tiles.Pruned, by string) *event.Event {
	archive := "none"
	if p.Archive != nil {
		archive = fmt.Sprintf("%s (size %d)", p.Archive.Location, p.Archive.Size)
	}
	return &event.Event{EventType: PrunedEventType, Action: "delete", Result: "success", Source: "retention",
		Actor:    event.Actor{ID: "ledger", Type: "system"},
		Resource: event.Resource{Type: "log_entries", ID: fmt.Sprintf("%d-%d", previous, p.MinimumIndex)},
		Tags: map[string]string{"previous_minimum_index": fmt.Sprint(previous), "minimum_index": fmt.Sprint(p.MinimumIndex),
			"archive": archive, "requested_by": by}}
}

// maxTag bounds a tag the run writes from text it does not control.
const maxTag = 512

// Every runs a prune every d until ctx is done, logging failures.
func (r *Runner) Every(ctx context.Context, d time.Duration) {
	every.Run(ctx, d, func(ctx context.Context) {
		if _, err := r.Run(ctx, Request{By: "schedule"}); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Error("scheduled prune failed; the next one runs at its time", "err", err)
		}
	})
}
