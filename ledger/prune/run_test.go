package prune_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/index/sqlite"
	"github.com/ledger-dev/ledger/ledger/prune"
	"github.com/ledger-dev/ledger/ledger/retention"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

// runLog is a real ledger over a posix directory with a SQLite index that
// a follower fills, and a Runner over both whose events go into the log.
type runLog struct {
	store    *posix.Storage
	l        *ledger.Ledger
	idx      *sqlite.Index
	follower *index.Follower
	pipeline *event.Pipeline
	state    string
	holds    *hold.Store
}

func newRunLog(t *testing.T) *runLog {
	dir := t.TempDir()
	store, err := posix.Open(t.Context(), posix.Config{Dir: filepath.Join(dir, "log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, _ := storagetest.NewSigner(t, "example.com/prune")
	l, err := ledger.New(t.Context(), ledger.Config{Storage: store, Keys: storagetest.NewMemoryKeys(), Signer: signer, KeyOf: event.KeyOf, PublishInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	idx, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(dir, "index.sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	f, err := index.NewFollower(index.FollowerConfig{Store: idx, Log: index.StorageLog(store),
		Size: func(context.Context) (uint64, error) { return l.Committed().Size, nil },
		Minimum: func(ctx context.Context) (uint64, error) {
			p, err := store.Pruned(ctx)
			return p.MinimumIndex, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	return &runLog{store: store, l: l, idx: idx, follower: f, pipeline: event.NewPipeline(event.PipelineConfig{Now: func() time.Time { return t0 }}),
		state: filepath.Join(dir, "prune.json"), holds: hold.Open(filepath.Join(dir, hold.FileName))}
}

// appendReads appends n events stamped t0.
func (rl *runLog) appendReads(t *testing.T, n int) {
	t.Helper()
	var entries []ledger.Entry
	for range n {
		prepared, err := rl.pipeline.PrepareOwn(&event.Event{Timestamp: t0, EventType: "doc.read", Action: "read",
			Actor: event.Actor{ID: "u-1", Type: "user"}, Resource: event.Resource{Type: "doc"}, Result: "success"})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, ledger.Entry{Key: prepared[0].Key, Leaf: prepared[0].Leaf})
	}
	if _, err := rl.l.Append(t.Context(), entries); err != nil {
		t.Fatal(err)
	}
}

func (rl *runLog) appendOwn(ctx context.Context, e *event.Event) error {
	entries, err := rl.pipeline.PrepareOwn(e)
	if err != nil {
		return err
	}
	_, err = rl.l.Append(ctx, []ledger.Entry{{Key: entries[0].Key, Leaf: entries[0].Leaf}})
	return err
}

func (rl *runLog) runner(t *testing.T, policy *retention.Policy, now time.Time) *prune.Runner {
	r, err := prune.New(prune.Config{Storage: rl.store, Index: rl.idx, Policy: policy, Holds: rl.holds.List, Append: rl.appendOwn,
		StateFile: rl.state, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// prunedEvents returns the tags of the retention.pruned events in the index.
func (rl *runLog) prunedEvents(t *testing.T) []map[string]string {
	t.Helper()
	if _, err := rl.follower.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	rows, err := rl.idx.Query(t.Context(), index.Query{Filter: index.Filter{EventType: prune.PrunedEventType}, Below: 1 << 62, Order: index.ByIndex, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range rows {
		ev, err := event.ParseLeaf(r.Leaf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Tags)
	}
	return out
}

// TestRun prunes a real log: a dry run changes nothing, a run moves the
// minimum index, deletes the bundles, drops the index rows and logs
// itself; a run that prunes nothing logs that too; and a prune whose
// event a crash lost (the storage pruned, the state file behind) is logged
// by the next run, as recovered.
func TestRun(t *testing.T) {
	ctx := t.Context()
	rl := newRunLog(t)
	rl.appendReads(t, 600)
	if _, err := rl.follower.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	hour, _ := retention.ParsePeriod("1h")
	policy, _ := retention.New([]retention.Rule{{Min: hour}})
	r := rl.runner(t, policy, t0.Add(2*time.Hour))

	res, err := r.Run(ctx, prune.Request{DryRun: true})
	if err != nil || res.MinimumIndex != 512 || res.Entries != 512 {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if p, _ := rl.store.Pruned(ctx); p.MinimumIndex != 0 || len(rl.prunedEvents(t)) != 0 {
		t.Fatalf("a dry run pruned to %d or logged", p.MinimumIndex)
	}
	res, err = r.Run(ctx, prune.Request{By: "test"})
	if err != nil || res.Pruned.MinimumIndex != 512 || res.Entries != 512 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	if _, err := rl.store.ReadTile(ctx, tiles.Tile{Index: 1, Width: tiles.TileWidth, Entries: true}); !errors.Is(err, tiles.ErrPruned) {
		t.Fatalf("bundle 1 after the prune: %v", err)
	}
	rows, err := rl.idx.Query(ctx, index.Query{Below: 1 << 62, Order: index.ByIndex, Limit: 1})
	if err != nil || rows[0].Index != 512 {
		t.Fatalf("the index's first row after the prune: %v %v", rows, err)
	}
	evs := rl.prunedEvents(t)
	if len(evs) != 1 || evs[0]["previous_minimum_index"] != "0" || evs[0]["minimum_index"] != "512" || evs[0]["entries"] != "512" || evs[0]["requested_by"] != "test" {
		t.Fatalf("events after the run: %v", evs)
	}
	// Every entry may go, but not a whole bundle more.
	if res, err = r.Run(ctx, prune.Request{By: "test"}); err != nil || res.Entries != 0 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	if evs := rl.prunedEvents(t); len(evs) != 2 || evs[1]["entries"] != "0" || evs[1]["stop"] == "" {
		t.Fatalf("a run that pruned nothing logged %v", evs)
	}

	// The storage pruned further with no event (a crash between the two).
	rl.appendReads(t, 300)
	if err := rl.store.Prune(ctx, tiles.Pruned{MinimumIndex: 768}); err != nil {
		t.Fatal(err)
	}
	if err := r.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	evs = rl.prunedEvents(t) // the earlier ones are below 768 now
	if len(evs) != 1 || evs[0]["previous_minimum_index"] != "512" || evs[0]["minimum_index"] != "768" || evs[0]["recovered"] == "" {
		t.Fatalf("after the recovery: %v", evs)
	}
	if b, err := os.ReadFile(rl.state); err != nil || !strings.Contains(string(b), "768") {
		t.Fatalf("state file: %s %v", b, err)
	}
}
