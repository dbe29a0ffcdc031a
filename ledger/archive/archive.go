// Package archive copies a log to a write-once archive before anything is
// pruned from it, and verifies it there.
//
// An archive is itself a tlog-tiles log of the same origin and key, in a
// blob store (a directory, or an S3 bucket with Object Lock in compliance
// mode): its checkpoint, every hash tile and every entry bundle of
// [0, size). A Run copies the log up to its published checkpoint with
// package mirror's copier (which verifies every tile against the signed
// checkpoint before it publishes that checkpoint in the archive), then
// verifies the archive anew by reading it back: the checkpoint it holds is
// the one copied and verifies with the log's policy, every entry bundle
// copied since the last verified run re-hashes to its hash tile, each
// tile is authenticated up to the checkpoint's root, and the log's current
// checkpoint is consistent with the archived one. Only then does the run
// write the archive's Record (RecordName), which Reach reads: a run killed
// at any point leaves Reach where the last whole run put it, and the next
// run copies again, and re-hashes, everything since that last verified
// size (resuming from mirror's progress record when the copy itself was
// cut short).
package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/mirror"
	"github.com/ledger-dev/ledger/tiles"
)

// Config configures a run.
type Config struct {
	// Source serves the log: its published checkpoint and its tiles (see
	// Source). Untrusted: everything is verified. Required.
	Source tiles.Fetcher
	// Target is the archive. Required.
	Target blob.Store
	// Location is the archive's URL for the Record (file:///path or
	// s3://bucket/prefix). Required.
	Location string
	// Policy verifies the log's checkpoints. Required.
	Policy *tiles.Policy
	// RetainUntil, if set, returns the date the objects a run started at
	// now writes are locked until (blob.PutOptions.RetainUntil), rounded
	// up to the second; the Target must then be able to lock. Nil:
	// nothing is locked.
	RetainUntil func(now time.Time) time.Time
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Concurrency is how many objects are read or written at once.
	// Default 16.
	Concurrency int
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
	// Metrics, if set, records every run.
	Metrics *Metrics
}

// Run archives the log once (see the package comment) and returns the
// Record it wrote.
func Run(ctx context.Context, cfg Config) (rec Record, err error) {
	if cfg.Source == nil || cfg.Target == nil || cfg.Policy == nil || cfg.Location == "" {
		return Record{}, errors.New("archive: Config.Source, Target, Location and Policy are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	defer func() { cfg.Metrics.ran(rec, err, cfg.Now()) }()
	var from uint64
	prev, prevCP, err := readRecord(ctx, cfg.Target, cfg.Policy)
	switch {
	case err == nil:
		from = prev.To
	case !errors.Is(err, tiles.ErrNotFound):
		return Record{}, err
	}
	started := cfg.Now().UTC()
	var until time.Time
	if cfg.RetainUntil != nil {
		// S3 keeps a lock's date to the second: round up, so that the
		// record says the objects' date and no object is unlocked early.
		until = cfg.RetainUntil(started).UTC().Add(time.Second - 1).Truncate(time.Second)
	}
	// Whatever the archive holds beyond the last verified size (a run
	// stopped before its record, or whose read-back failed) is copied
	// again, so that a bad object there is replaced rather than found
	// again by every run.
	res, err := mirror.Run(ctx, mirror.Config{Source: cfg.Source, Mirror: cfg.Target, Policy: cfg.Policy,
		Concurrency: cfg.Concurrency, Logger: cfg.Logger, RetainUntil: until, CopyFrom: &from})
	if err != nil {
		return Record{}, fmt.Errorf("couldn't copy the log to the archive: %w", err)
	}
	// At this point the archive holds the log at res.To, as copied; Reach
	// still says from.
	note, err := verify(ctx, cfg, prevCP, from, res.To)
	if err != nil {
		return Record{}, err
	}
	rec = Record{From: from, To: res.To, Location: cfg.Location, CheckpointSHA256: checkpointSHA256(note),
		ArchivedAt: cfg.Now().UTC(), RetainUntil: until, Checkpoint: string(note)}
	if err := writeRecord(ctx, cfg.Target, rec); err != nil {
		return Record{}, err
	}
	// At this point Reach says rec.To.
	cfg.Logger.Info("archived the log", "from", rec.From, "to", rec.To, "location", rec.Location, "retain_until", until)
	return rec, nil
}

// writeRecord writes rec as the archive's RecordName, locked as the
// objects of its run are.
func writeRecord(ctx context.Context, target blob.Store, rec Record) error {
	b, _ := json.MarshalIndent(rec, "", "  ") // a Record always marshals
	if err := target.Put(ctx, RecordName, append(b, '\n'), blob.PutOptions{ContentType: "application/json", RetainUntil: rec.RetainUntil}); err != nil {
		return fmt.Errorf("couldn't write the archive's %s: %w", RecordName, err)
	}
	return nil
}

// verify reads the archive back: its checkpoint must be the log's at size
// to (verified with the policy), consistent with prev (the last verified
// one, nil if none) and with the log's current checkpoint, and every entry
// bundle from the one holding entry from on must re-hash to its
// authenticated hash tile. It returns the archive's checkpoint note.
func verify(ctx context.Context, cfg Config, prev *tiles.SignedCheckpoint, from, to uint64) ([]byte, error) {
	archived := mirror.Fetcher(cfg.Target)
	note, err := archived.Fetch(ctx, tiles.CheckpointPath)
	if err != nil {
		return nil, fmt.Errorf("couldn't read back the archive's checkpoint: %w", err)
	}
	sc, err := cfg.Policy.Verify(note)
	if err != nil {
		return nil, fmt.Errorf("the archive's checkpoint, read back: %w", err)
	}
	if sc.Size != to {
		return nil, fmt.Errorf("the archive's checkpoint, read back, has size %d, not the %d copied: is another run writing to it?", sc.Size, to)
	}
	tree := tiles.NewTree(archived, sc.Checkpoint)
	if prev != nil {
		if _, err := tree.ProveConsistency(ctx, prev.Checkpoint); err != nil {
			return nil, fmt.Errorf("%w: the archive at size %d is not consistent with its last verified size %d: %v", tiles.ErrTampered, to, prev.Size, err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Concurrency)
	for n := from / tiles.TileWidth; n < tiles.BundleCount(to); n++ {
		g.Go(func() error {
			if _, err := tree.Bundle(gctx, n); err != nil {
				return fmt.Errorf("the archive, read back: %w", err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := consistentWithLog(ctx, cfg, sc); err != nil {
		return nil, err
	}
	return note, nil
}

// consistentWithLog checks that the log's current checkpoint extends the
// archived one.
func consistentWithLog(ctx context.Context, cfg Config, archived *tiles.SignedCheckpoint) error {
	raw, err := cfg.Source.Fetch(ctx, tiles.CheckpointPath)
	if err != nil {
		return fmt.Errorf("couldn't read the log's checkpoint: %w", err)
	}
	cur, err := cfg.Policy.Verify(raw)
	if err != nil {
		return fmt.Errorf("the log's checkpoint: %w", err)
	}
	if _, err := tiles.NewTree(cfg.Source, cur.Checkpoint).ProveConsistency(ctx, archived.Checkpoint); err != nil {
		return fmt.Errorf("%w: the log at size %d is not consistent with the archive at size %d: %v", tiles.ErrTampered, cur.Size, archived.Size, err)
	}
	return nil
}
