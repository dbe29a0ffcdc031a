// Package scrub checks, in the background, that what storage holds is the
// tree the log committed to: it reads every entry bundle and hash tile of
// the published tree through the verifying client (tiles.Tree), which
// authenticates each hash tile by its parent up to the checkpoint's root and
// each bundle by its leaf hashes, at a bounded rate, pass after pass. A
// bundle or tile that fails is reported (an error log line, the metrics)
// and refused from then on: Check says so to the read path, so that a
// changed entry is never served as the log's.
package scrub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/ledger-dev/ledger/tiles"
)

// TileReader reads stored tiles and bundles (a storage driver).
type TileReader interface {
	ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error)
}

// Config configures a Scrubber. Zero values take the documented defaults.
type Config struct {
	// Tiles reads the stored tiles and bundles. Required.
	Tiles TileReader
	// Tree returns the verified checkpoint of the tree to check, whose
	// root the stored tiles must recompute: the published one, in serve.
	// Required.
	Tree func() tiles.Checkpoint
	// Interval is the time from the start of one pass to the start of the
	// next. Default 24h.
	Interval time.Duration
	// Rate bounds how many bundles a second are checked (each with its
	// level-0 tile). Default 100.
	Rate float64
	// Logger receives the findings. Default slog.Default().
	Logger *slog.Logger
	// Metrics, if set, is updated as passes run; main registers it.
	Metrics *Metrics
}

// Scrubber runs the passes. It is safe for concurrent use.
type Scrubber struct {
	cfg Config

	mu  sync.Mutex
	bad map[tiles.Tile]string // by Tile with Width 0: every width of it; why it failed
}

// New validates cfg and returns a Scrubber; Run starts it.
func New(cfg Config) (*Scrubber, error) {
	if cfg.Tiles == nil || cfg.Tree == nil {
		return nil, errors.New("scrub: Config.Tiles and Config.Tree are required")
	}
	if cfg.Interval < 0 || cfg.Rate < 0 {
		return nil, errors.New("scrub: Config.Interval and Config.Rate must not be negative")
	}
	if cfg.Interval == 0 {
		cfg.Interval = 24 * time.Hour
	}
	if cfg.Rate == 0 {
		cfg.Rate = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Scrubber{cfg: cfg, bad: map[tiles.Tile]string{}}, nil
}

// ErrCorrupt is wrapped by Check's error for a tile or bundle that failed a
// pass. It wraps tiles.ErrTampered.
var ErrCorrupt = fmt.Errorf("failed the background integrity check: %w", tiles.ErrTampered)

// Check returns an error wrapping ErrCorrupt if a pass found tile t (at any
// width) not to be what the tree holds, else nil.
func (s *Scrubber) Check(t tiles.Tile) error {
	s.mu.Lock()
	_, bad := s.bad[key(t)]
	s.mu.Unlock()
	if bad {
		return fmt.Errorf("%s %w; the operator is alerted", t.Path(), ErrCorrupt)
	}
	return nil
}

func key(t tiles.Tile) tiles.Tile {
	t.Width = 0
	return t
}

// Run runs a pass at once and then every Interval until ctx is done.
func (s *Scrubber) Run(ctx context.Context) {
	for {
		start := time.Now()
		if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("scrub pass stopped; the next one starts at its time", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(s.cfg.Interval))):
		}
	}
}

// Pass checks every bundle of Tree's tree, and with it every hash
// tile, at most Rate bundles a second. It returns an error only if storage
// could not be read; what fails the check is recorded for Check and
// reported.
func (s *Scrubber) Pass(ctx context.Context) error {
	cp := s.cfg.Tree()
	lim := rate.NewLimiter(rate.Limit(s.cfg.Rate), 1)
	fetch := fetcher{s.cfg.Tiles}
	var tree *tiles.Tree
	start := time.Now()
	for n := uint64(0); n < tiles.BundleCount(cp.Size); n++ {
		if err := lim.Wait(ctx); err != nil {
			return err
		}
		if n%tiles.TileWidth == 0 {
			// A Tree keeps every tile it authenticated: a new one per
			// level-1 tile's worth of bundles bounds the memory.
			tree = tiles.NewTree(fetch, cp)
		}
		if err := s.checkBundle(ctx, tree, n, cp.Size); err != nil {
			return err
		}
	}
	s.cfg.Metrics.passed(time.Now())
	s.cfg.Logger.Info("scrub pass done", "size", cp.Size, "bundles", tiles.BundleCount(cp.Size), "took", time.Since(start).Round(time.Millisecond).String(), "corrupt", s.corrupt())
	return nil
}

// checkBundle authenticates level-0 tile n up to the root and bundle n by
// its leaf hashes, recording whichever fails.
func (s *Scrubber) checkBundle(ctx context.Context, tree *tiles.Tree, n, size uint64) error {
	lt, _ := tiles.TileFor(0, n, size)
	bt, _ := tiles.BundleFor(n, size)
	s.cfg.Metrics.checked()
	_, err := tree.ReadTile(ctx, lt)
	tileOK := err == nil
	if tileOK {
		_, err = tree.Bundle(ctx, n)
	}
	switch {
	case err == nil:
		return nil
	case tileOK && errors.Is(err, tiles.ErrPruned):
		// The log pruned the bundle; its leaf hashes, authenticated
		// above, stay.
		return nil
	case !errors.Is(err, tiles.ErrTampered):
		return fmt.Errorf("couldn't read bundle %d or its tiles: %w", n, err)
	}
	// The bundle cannot be authenticated: it, or its level-0 tile (or a
	// tile on that one's way to the root), is not what the tree holds.
	s.record(bt, err)
	if !tileOK {
		s.record(lt, err)
	}
	return nil
}

// record marks t as corrupt and reports it, once.
func (s *Scrubber) record(t tiles.Tile, err error) {
	s.mu.Lock()
	_, known := s.bad[key(t)]
	if !known {
		s.bad[key(t)] = err.Error()
	}
	n := len(s.bad)
	s.mu.Unlock()
	s.cfg.Metrics.setCorrupt(n)
	if !known {
		s.cfg.Logger.Error("ALARM: stored log data does not match the published tree; it is no longer served", "tile", t.Path(), "err", err)
	}
}

func (s *Scrubber) corrupt() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bad)
}

// fetcher is a tiles.Fetcher over a TileReader.
type fetcher struct{ r TileReader }

func (f fetcher) Fetch(ctx context.Context, path string) ([]byte, error) {
	t, err := tiles.ParsePath(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, tiles.ErrNotFound)
	}
	return f.r.ReadTile(ctx, t)
}

// Metrics are the scrubber's Prometheus metrics; a nil *Metrics records
// nothing.
type Metrics struct {
	corrupt  prometheus.Gauge
	bundles  prometheus.Counter
	lastPass prometheus.Gauge
}

// NewMetrics creates the scrubber's metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		corrupt: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ledger_scrub_corrupt_tiles",
			Help: "Stored bundles and tiles found not to match the published tree (refused since); alert on any."}),
		bundles: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledger_scrub_bundles_checked_total",
			Help: "Entry bundles checked, each with its level-0 tile and the tiles above it."}),
		lastPass: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ledger_scrub_last_pass_timestamp_seconds",
			Help: "When the last complete scrub pass ended (Unix time)."}),
	}
}

// Register registers the metrics with r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.corrupt, m.bundles, m.lastPass} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *Metrics) setCorrupt(n int) {
	if m != nil {
		m.corrupt.Set(float64(n))
	}
}

func (m *Metrics) checked() {
	if m != nil {
		m.bundles.Inc()
	}
}

func (m *Metrics) passed(t time.Time) {
	if m != nil {
		m.lastPass.Set(float64(t.Unix()))
	}
}
