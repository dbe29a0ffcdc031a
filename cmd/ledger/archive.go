package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledger-dev/ledger/internal/every"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/archive"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/tiles"
)

// ArchivedEventType is the event every archive run appends.
const ArchivedEventType = "retention.archived"

// archiveTarget is the archive of a configuration, opened.
type archiveTarget struct {
	conf     *archiveConfig
	store    blob.Store
	location string // as a URL: s3://BUCKET/PREFIX?… or file:///DIR
}

// openArchive opens the archive a configures (nil, with no error, when a
// is nil). A locked archive must be a bucket with Object Lock: anything
// else is refused here, at start.
func openArchive(ctx context.Context, a *archiveConfig) (*archiveTarget, error) {
	if a == nil {
		return nil, nil
	}
	st, err := openObjects(ctx, a.Location)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	location := a.Location
	if strings.HasPrefix(location, "s3://") {
		cfg, _ := s3.ParseURL(location) // openObjects parsed it
		location = cfg.URL()
	} else {
		abs, err := filepath.Abs(location)
		if err != nil {
			return nil, err
		}
		location = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	}
	if a.locked() {
		locker, ok := st.(interface{ CheckObjectLock(context.Context) error })
		if !ok {
			return nil, fmt.Errorf("%w: archive: object_lock: compliance needs a bucket with Object Lock, not %s", errUsage, location)
		}
		if err := locker.CheckObjectLock(ctx); errors.Is(err, blob.ErrNoLock) {
			return nil, fmt.Errorf("%w: archive: object_lock: compliance: %v", errUsage, err)
		} else if err != nil {
			return nil, fmt.Errorf("archive: %w", err)
		}
	}
	return &archiveTarget{conf: a, store: st, location: location}, nil
}

// serve returns what serve reads tiles through (r, or with
// serve_pruned_reads r with pruned bundles read from the archive) and the
// archiver of POST /v1/admin/archive, started on its schedule (nil for a
// read-only instance, which cannot append its events), its metrics
// registered with reg. A nil t is no archive: r, and no archiver.
func (t *archiveTarget) serve(ctx context.Context, conf *serveConfig, l *ledger.Ledger, r archive.TileReader, vkey string, readOnly bool, log *slog.Logger, reg prometheus.Registerer) (archive.TileReader, httpapi.Archiver, error) {
	if t == nil {
		return r, nil, nil
	}
	reads := r
	if t.conf.ServePrunedReads {
		reads = archive.PrunedReads(r, t.store)
	}
	if readOnly {
		return reads, nil, nil
	}
	a, err := newArchiver(conf, l, r, vkey, t.store, t.location, log)
	if err != nil {
		return nil, nil, err
	}
	if err := a.cfg.Metrics.Register(reg); err != nil {
		return nil, nil, err
	}
	if t.conf.Every > 0 {
		go a.schedule(ctx, t.conf.Every)
	}
	return reads, a, nil
}

// archiver runs the archive of a serving ledger, one run at a time: on
// its schedule and on demand (POST /v1/admin/archive), each run followed
// by its retention.archived event.
type archiver struct {
	cfg  archive.Config
	conf *serveConfig
	l    *ledger.Ledger
	log  *slog.Logger
	mu   sync.Mutex // held for a run
}

// newArchiver returns the archiver of l into target, which the ledger's
// storage r and its published checkpoint feed.
func newArchiver(conf *serveConfig, l *ledger.Ledger, r archive.TileReader, vkey string, target blob.Store, location string, log *slog.Logger) (*archiver, error) {
	policy, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		return nil, err
	}
	cfg := archive.Config{Source: archive.Source(r, func() []byte { n, _ := l.Published(); return n }),
		Target: target, Location: location, Policy: policy, Logger: log, Metrics: archive.NewMetrics()}
	if conf.Archive.locked() {
		cfg.RetainUntil = func(now time.Time) time.Time {
			until, _ := conf.policy.KeepAllUntil(now) // validate checked there is one
			return until
		}
	}
	return &archiver{cfg: cfg, conf: conf, l: l, log: log}, nil
}

// Archive runs the archive once, then appends its event: what it archived,
// or that it failed and why. The record is returned once the event is
// durable.
func (a *archiver) Archive(ctx context.Context) (archive.Record, error) {
	return a.run(ctx, "admin")
}

func (a *archiver) run(ctx context.Context, trigger string) (archive.Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, err := archive.Run(ctx, a.cfg)
	if err != nil {
		a.log.Error("archive run failed", "location", a.cfg.Location, "trigger", trigger, "err", err)
	}
	if ctx.Err() != nil {
		return rec, errors.Join(err, ctx.Err())
	}
	if eerr := appendOwn(ctx, a.l, a.conf, func(bool) *event.Event { return archivedEvent(a.cfg.Location, trigger, rec, err) }); eerr != nil {
		return rec, errors.Join(err, fmt.Errorf("couldn't append the %s event: %w", ArchivedEventType, eerr))
	}
	return rec, err
}

// archivedEvent is the event of a run that wrote rec, or failed with err.
func archivedEvent(location, trigger string, rec archive.Record, err error) *event.Event {
	e := &event.Event{EventType: ArchivedEventType, Action: "archive", Actor: event.Actor{ID: "ledger", Type: "system"},
		Resource: event.Resource{Type: "log_archive", ID: location}, Result: "success", Source: trigger,
		Tags: map[string]string{"location": location}}
	if err != nil {
		e.Result, e.Reason = "failure", event.Clip(err.Error(), 512)
		return e
	}
	retain := "none"
	if !rec.RetainUntil.IsZero() {
		retain = rec.RetainUntil.Format(time.RFC3339)
	}
	e.Tags["from"], e.Tags["to"] = fmt.Sprint(rec.From), fmt.Sprint(rec.To)
	e.Tags["checkpoint_sha256"], e.Tags["retain_until"] = rec.CheckpointSHA256, retain
	return e
}

// schedule runs the archive every interval until ctx ends.
func (a *archiver) schedule(ctx context.Context, interval time.Duration) {
	every.Run(ctx, interval, func(ctx context.Context) {
		a.run(ctx, "schedule") // its failure is logged, and is an event
	})
}

const archiveUsage = `usage: ledger archive --url URL [--token T] [--json]

Runs the archive of a running ledger now (POST /v1/admin/archive, an admin
token): the log is copied up to its published checkpoint to the archive its
configuration names, read back and verified there, and a retention.archived
event records the range, the location and the checkpoint's SHA-256. Prints
what was archived. See docs/retention.md.
`

// cmdArchive runs `ledger archive`.
func cmdArchive(ctx context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
	fs := newFlags("archive")
	fs.Usage = usageText(fs, archiveUsage)
	rawURL := fs.String("url", "http://127.0.0.1:8080", "the running ledger's `URL`")
	token := tokenFlag(fs, "an admin")
	asJSON := fs.Bool("json", false, "print the record as the endpoint answers it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: ledger archive takes no arguments", errUsage)
	}
	base, err := baseURL(*rawURL)
	if err != nil {
		return err
	}
	resp, err := send(ctx, newClient(*token, 0), http.MethodPost, base+"/v1/admin/archive", "", "the archive")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var rec archive.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("couldn't read the ledger's answer: %w", err)
	}
	if *asJSON {
		_, err := stdout.Write(b)
		return err
	}
	lock := "not locked"
	if !rec.RetainUntil.IsZero() {
		lock = "locked until " + rec.RetainUntil.Format(time.RFC3339)
	}
	_, err = fmt.Fprintf(stdout, "archived entries %d to %d to %s, read back and verified (checkpoint sha256:%s, %s)\n",
		rec.From, rec.To, rec.Location, rec.CheckpointSHA256, lock)
	return err
}
