package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
)

// fillConfig is what `ledger bench fill` does.
type fillConfig struct {
	data, pgURL, bucket, origin string
	entries                     uint64
	eventBytes                  int
	batch, inflight             int
	tenants                     int
	noIndex                     bool
}

const fillUsage = `usage: ledger bench fill --data DIR --entries N [flags]

Appends generated events to the log in DIR (or in PostgreSQL with --postgres)
until it holds N entries, without HTTP, and then fills the query index. The
events go through the same pipeline as the API's (ids are server-assigned
UUIDv7), so the log is one that 'ledger serve --data DIR' would have written.
Stop any server of DIR first.
`

// cmdBenchFill runs `ledger bench fill`.
func cmdBenchFill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench fill")
	fs.Usage = usageText(fs, fillUsage)
	var c fillConfig
	fs.StringVar(&c.data, "data", "", "data directory, as for serve: the log is DIR/log, the key DIR/log.key (created if absent)")
	fs.Uint64Var(&c.entries, "entries", 0, "fill the log up to this many entries")
	fs.StringVar(&c.pgURL, "postgres", "", "PostgreSQL connection URL: fill the log (and index) kept in that database")
	fs.StringVar(&c.bucket, "bucket", "", "fill a log whose tiles are in this bucket (s3:// URL) or directory, sequenced by --postgres")
	fs.StringVar(&c.origin, "origin", "", "log origin for a key created here (default <hostname>/ledger)")
	fs.IntVar(&c.eventBytes, "event-bytes", 400, "approximate bytes of each event's JSON")
	fs.IntVar(&c.batch, "batch", 4096, "events per append")
	fs.IntVar(&c.inflight, "inflight", 4, "appends in flight at once, to keep group commits full")
	fs.IntVar(&c.tenants, "tenants", 1, "spread the events over this many tenants (1: no tenant_id)")
	fs.BoolVar(&c.noIndex, "no-index", false, "leave the query index alone (serve fills it on its next start)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	maxBatch := event.DefaultLimits().MaxBatch
	switch {
	case c.data == "" || c.entries == 0:
		return fmt.Errorf("%w: --data and --entries are required", errUsage)
	case c.eventBytes < 300 || c.eventBytes > 16<<10:
		return fmt.Errorf("%w: --event-bytes must be between 300 and 16384", errUsage)
	case c.batch < 1 || c.batch > maxBatch || c.inflight < 1 || c.tenants < 1:
		return fmt.Errorf("%w: need 1 <= --batch <= %d, --inflight >= 1, --tenants >= 1", errUsage, maxBatch)
	case c.batch*c.inflight > 1<<18:
		return fmt.Errorf("%w: --batch × --inflight must not be over the ledger's 262144 pending entries", errUsage)
	}
	return runFill(ctx, c, stdout, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// runFill opens the log as serve does, appends until it holds c.entries,
// waits for the checkpoint to be published, and fills the index.
func runFill(ctx context.Context, c fillConfig, stdout io.Writer, log *slog.Logger) error {
	if err := os.MkdirAll(c.data, 0o755); err != nil {
		return err
	}
	key, err := openKey(c.data, "", c.origin, true, stdout)
	if err != nil {
		return err
	}
	signer := key.signer
	ls, err := openLogStorage(ctx, c.data, logLocation{postgres: c.pgURL, bucket: c.bucket}, log)
	if err != nil {
		return err
	}
	defer ls.Close()
	lc := ls.ledgerConfig(signer)
	lc.Logger = log
	start := time.Now()
	l, err := ledger.New(ctx, lc)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "opened the log of %d entries in %s\n", l.Committed().Size, time.Since(start).Round(time.Millisecond))
	err = fillLog(ctx, c, ls, l, stdout, log)
	if cerr := l.Close(context.Background()); err == nil {
		err = cerr
	}
	return err
}

// fillLog appends to l until it holds c.entries, waits for them to be
// published, and fills the index unless c.noIndex.
func fillLog(ctx context.Context, c fillConfig, ls *logStorage, l *ledger.Ledger, stdout io.Writer, log *slog.Logger) error {
	start := time.Now()
	from := l.Committed().Size
	if from < c.entries {
		if err := appendFill(ctx, l, c, from, newBar(stdout, int64(c.entries-from), "appending")); err != nil {
			return err
		}
	}
	size := l.Committed().Size
	if err := l.WaitPublished(ctx, size); err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "appended %d entries in %s: %.0f entries/s; the log holds %d\n",
		size-from, elapsed.Round(time.Millisecond), float64(size-from)/elapsed.Seconds(), size)
	if c.noIndex {
		return nil
	}
	return fillIndex(ctx, c.data, ls, l, size, stdout, log)
}

// fillIndex brings the query index up to size entries, as serve's follower
// would on its first start.
func fillIndex(ctx context.Context, data string, ls *logStorage, l *ledger.Ledger, size uint64, stdout io.Writer, log *slog.Logger) error {
	idx, f, err := openFollower(ctx, data, ls.pool, ls.store, log)
	if err != nil {
		return err
	}
	defer idx.Close()
	from, err := idx.Size(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	bar := newBar(stdout, int64(size-min(from, size)), "indexing")
	done := make(chan error, 1)
	go func() { _, err := f.Sync(ctx); done <- err }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			bar.Finish()
			if err != nil {
				return fmt.Errorf("couldn't fill the query index: %w", err)
			}
			elapsed := time.Since(start)
			fmt.Fprintf(stdout, "indexed %d entries in %s: %.0f entries/s\n",
				size-min(from, size), elapsed.Round(time.Millisecond), float64(size-min(from, size))/elapsed.Seconds())
			return nil
		case <-tick.C:
			if n, err := idx.Size(ctx); err == nil {
				bar.Set64(int64(n - min(from, n)))
			}
		}
	}
}

// appendFill appends generated events from event number from on until the
// log holds c.entries, c.inflight batches at a time.
func appendFill(ctx context.Context, l *ledger.Ledger, c fillConfig, from uint64, bar *progressbar.ProgressBar) error {
	defer bar.Finish()
	gen := newFillGen(c)
	// The events are spread over the year before now (newFillGen): the
	// pipeline takes them as old as that, as a log filled over a year did.
	lim := event.DefaultLimits()
	lim.MaxAge = 366 * 24 * time.Hour
	p := event.NewPipeline(event.PipelineConfig{Limits: lim})
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Uint64
	next.Store(from)
	var wg sync.WaitGroup
	for range c.inflight {
		wg.Go(func() {
			var body bytes.Buffer
			for ctx.Err() == nil {
				first := next.Add(uint64(c.batch)) - uint64(c.batch)
				if first >= c.entries {
					return
				}
				n := min(uint64(c.batch), c.entries-first)
				body.Reset()
				gen.body(&body, first, n)
				if err := appendBody(ctx, l, p, body.Bytes()); err != nil {
					cancel(err)
					return
				}
				bar.Add64(int64(n))
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// appendBody prepares an NDJSON body as the API does and appends it.
func appendBody(ctx context.Context, l *ledger.Ledger, p *event.Pipeline, body []byte) error {
	b, err := p.Prepare(event.Submission{Body: body, ContentType: "application/x-ndjson"})
	if err != nil {
		return fmt.Errorf("couldn't prepare generated events: %w", err)
	}
	entries := make([]ledger.Entry, len(b.Entries))
	for i, e := range b.Entries {
		entries[i] = ledger.Entry{Key: e.Key, Leaf: e.Leaf}
	}
	if _, err := l.Append(ctx, entries); err != nil {
		return fmt.Errorf("couldn't append: %w", err)
	}
	return nil
}
