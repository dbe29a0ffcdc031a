// Package httpapi is the ledger's HTTP interface: appending events, reading
// them back with proofs, and the C2SP tlog-tiles read API. Other surfaces,
// such as the web console, are mounted beside it under the same access
// control, audited access and error mapping (see Mount).
package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/access"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/retention"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
	"github.com/ledger-dev/ledger/tiles"
)

// TileReader reads committed tiles and entry bundles (a storage driver).
type TileReader interface {
	ReadTile(ctx context.Context, t tiles.Tile) ([]byte, error)
}

// Config configures a Server. Zero values take the documented defaults.
type Config struct {
	// Ledger sequences appended events. Required.
	Ledger *ledger.Ledger
	// Tiles reads the log's tiles. Required.
	Tiles TileReader
	// Limits bounds events and batches. Default event.DefaultLimits().
	Limits event.Limits
	// Redactor redacts secrets before hashing. Default:
	// event.DefaultRedactKeys and event.DefaultDetectors.
	Redactor *event.Redactor
	// Seal, when set, seals members of every event under its data
	// subject's key (leaf version 3; see event.SealConfig). Default nil:
	// nothing is sealed.
	Seal *event.SealConfig
	// SubjectKeys opens the keys that Seal seals under, so that readers
	// see sealed members in clear, and destroys them for POST
	// /v1/admin/erasures. Nil: sealed events are answered with their
	// ciphertext and that endpoint answers 404.
	SubjectKeys subjectkey.Store
	// MaxBodyBytes bounds a request body. Default 32 MiB.
	MaxBodyBytes int64
	// MaxBodyMemory bounds the bytes of append bodies read and not yet
	// committed, over all requests at once: a body's first 256 KiB are
	// reserved as they arrive, then the rest of its Content-Length (or
	// MaxBodyBytes) at once before more is read, and a request that finds
	// the budget spent gets 503 + Retry-After. Decoding takes a few times
	// the body's bytes on top, so memory stays within a small multiple of
	// it.
	// Default 128 MiB; it must be at least MaxBodyBytes.
	MaxBodyMemory int64
	// WaitTimeout bounds how long ?wait=published waits. Default 30s.
	WaitTimeout time.Duration
	// Now is the clock for server-assigned timestamps. Default time.Now.
	Now func() time.Time
	// Index answers GET /v1/events, the reports and exports. Nil: those
	// endpoints answer 404.
	Index Index
	// Metrics serves /metrics, if set.
	Metrics http.Handler
	// Access checks bearer tokens and their roles (docs/access.md). Nil, or
	// a keyring with no tokens configured: every endpoint is open to
	// anyone, and reads are not audited.
	Access *access.Keyring
	// Holds keeps the legal holds of the admin API. Nil: those endpoints
	// answer 404.
	Holds *hold.Store
	// Pruned says how far the log is pruned, for GET /pruned.json. Nil: a
	// log never pruned ({"minimum_index":0}).
	Pruned PrunedReader
	// Prune runs POST /v1/admin/prune. Nil: that endpoint answers 404.
	Prune Pruner
	// Retention is the retention policy GET /v1/admin/retention shows.
	// Nil: the empty policy, which keeps every event forever.
	Retention *retention.Policy
	// Archive runs the archive for POST /v1/admin/archive. Nil: that
	// endpoint answers 404.
	Archive Archiver
	// PublicEntries serves entry bundles to anyone; by default only
	// auditors read them, since they hold the events' contents.
	PublicEntries bool
	// RateLimit is every token's request rate limit, unless the token has
	// its own. Zero: no limit.
	RateLimit access.RateLimit
	// Logger receives request errors. Default slog.Default().
	Logger *slog.Logger
	// RequestMetrics, if set, counts and times every request. Default none.
	RequestMetrics *Metrics
	// Mounts are handlers served beside the API, under its authentication,
	// audited access and error mapping (see Mount). Default none.
	Mounts []Mount
	// Integrity, if set, vets every tile and bundle before it is read for
	// an answer (tiles, events, proofs): one it refuses is answered with
	// its error, 503 when that wraps tiles.ErrTampered. The background
	// scrub (scrub.Scrubber) is one.
	Integrity interface {
		Check(t tiles.Tile) error
	}
}

// Server serves the ledger's HTTP API.
type Server struct {
	cfg    Config
	log    *slog.Logger
	events *event.Pipeline
	router chi.Router
	gz     sync.Pool
	limits rateLimits
	bodies *semaphore.Weighted // the budget of Config.MaxBodyMemory
	// unavailable rate-limits the logging of 503s.
	unavailable rate.Sometimes
}

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Ledger == nil || cfg.Tiles == nil {
		return nil, errors.New("httpapi: Config.Ledger and Config.Tiles are required")
	}
	if err := checkMounts(cfg.Mounts); err != nil {
		return nil, err
	}
	if cfg.Limits == (event.Limits{}) {
		cfg.Limits = event.DefaultLimits()
	}
	if cfg.Redactor == nil {
		cfg.Redactor = event.NewRedactor(event.DefaultRedactKeys, event.DefaultDetectors...)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if cfg.MaxBodyMemory == 0 {
		cfg.MaxBodyMemory = max(128<<20, cfg.MaxBodyBytes)
	}
	if cfg.MaxBodyMemory < cfg.MaxBodyBytes {
		return nil, fmt.Errorf("httpapi: Config.MaxBodyMemory (%d) is below MaxBodyBytes (%d): no largest body could ever be read", cfg.MaxBodyMemory, cfg.MaxBodyBytes)
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Tiles = storageTiles{r: cfg.Tiles, integrity: cfg.Integrity}
	if cfg.Index != nil {
		cfg.Index = storageIndex{cfg.Index}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, unavailable: rate.Sometimes{Interval: time.Second}, bodies: semaphore.NewWeighted(cfg.MaxBodyMemory), events: event.NewPipeline(event.PipelineConfig{Limits: cfg.Limits, Redactor: cfg.Redactor, Now: cfg.Now, Seal: cfg.Seal})}
	s.gz.New = func() any { w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed); return w }
	r := chi.NewRouter()
	if cfg.RequestMetrics != nil {
		r.Use(cfg.RequestMetrics.middleware)
	}
	r.Use(s.requestID, s.authenticate)
	// Set before the mounts, which inherit them if they are chi routers.
	r.NotFound(s.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		allowed := s.allowedMethods(r.URL.Path)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.writeError(w, r, fmt.Errorf("%w: %s is not allowed on %s; allowed: %s", errMethodNotAllowed, r.Method, r.URL.Path, strings.Join(allowed, ", ")))
	})
	// Public: the C2SP read API (entry bundles are checked in getTile),
	// health and the API's description.
	r.Get("/checkpoint", s.getCheckpoint)
	r.Get("/"+tiles.PrunedPath, s.getPruned)
	r.Get("/tile/*", s.getTile)
	r.Get("/healthz", s.healthz)
	r.Get("/v1/openapi.json", s.openAPI)
	r.With(s.require(access.Writer)).Post("/v1/events", s.appendEvents)
	r.Group(func(r chi.Router) {
		r.Use(s.require(access.Reader, access.Auditor))
		r.Get("/v1/events/{index}", s.getEvent)
		r.Get("/v1/proof/{index}", s.getProof)
		r.Get("/v1/events", s.queryEvents)
		r.Get("/v1/reports/failed-attempts", s.failedAttempts)
	})
	r.With(s.require(access.Auditor)).Get("/v1/export", s.export)
	r.Route("/v1/admin", func(r chi.Router) {
		// The privacy role erases, and reads the holds that refuse an
		// erasure; the rest is the admin's alone.
		r.Group(func(r chi.Router) {
			r.Use(s.require(access.Admin, access.Privacy))
			r.Post("/erasures", s.eraseSubject)
			r.Get("/holds", s.listHolds)
			r.Get("/holds/{id}/blocking", s.holdBlocking)
		})
		r.Group(func(r chi.Router) {
			r.Use(s.require(access.Admin))
			r.Get("/tokens", s.listTokens)
			r.Post("/tokens", s.createToken)
			r.Delete("/tokens/{id}", s.revokeToken)
			r.Post("/holds", s.placeHold)
			r.Delete("/holds/{id}", s.releaseHold)
			r.Get("/retention", s.showRetention)
			r.Post("/prune", s.runPrune)
			r.Post("/archive", s.runArchive)
		})
	})
	if cfg.Metrics != nil {
		r.With(s.require(access.Auditor, access.Admin)).Method(http.MethodGet, "/metrics", cfg.Metrics)
	}
	for _, m := range cfg.Mounts {
		s.mount(r, m)
	}
	s.router = r
	return s, nil
}

// allowedMethods returns the methods the router serves path with, for the
// Allow header of a 405.
func (s *Server) allowedMethods(path string) []string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if s.router.Match(chi.NewRouteContext(), m, path) {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// parseIndex reads the {index} URL parameter.
func parseIndex(r *http.Request) (uint64, error) {
	v := chi.URLParam(r, "index")
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("%w: index %q is not a decimal number", errBadRequest, v)
	}
	return n, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	_, published := s.cfg.Ledger.Published()
	committed := s.cfg.Ledger.Committed().Size
	if err := s.cfg.Ledger.Healthy(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "error": err.Error(),
			"size": committed, "published_size": published})
		return
	}
	body := map[string]any{"status": "ok", "origin": s.cfg.Ledger.Origin(), "size": committed, "published_size": published}
	if configured, met := s.cfg.Ledger.Quorum(); configured {
		body["witness_quorum"] = met
	}
	writeJSON(w, http.StatusOK, body)
}

// getCheckpoint serves the published checkpoint; it must not be cached for long.
func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, _ := s.cfg.Ledger.Published()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(cp)
}

// getTile serves hash tiles and entry bundles of the published tree. They
// never change, so they are cacheable forever; bundles are gzipped for
// clients that accept it.
func (s *Server) getTile(w http.ResponseWriter, r *http.Request) {
	t, err := tiles.ParsePath(strings.TrimPrefix(r.URL.Path, "/"))
	if err != nil {
		s.writeError(w, r, fmt.Errorf("%w: %v", errNotFound, err))
		return
	}
	if t.Entries && !s.cfg.PublicEntries && !s.permit(w, r, access.Auditor) {
		return
	}
	_, published := s.cfg.Ledger.Published()
	if !publishedTile(t, published) {
		// Another instance sharing the storage may have published it.
		_, published = s.cfg.Ledger.PublishedCovering(r.Context(), published+1)
	}
	if !publishedTile(t, published) {
		s.writeError(w, r, fmt.Errorf("%w: %s is not part of the published tree of size %d", errNotFound, t.Path(), published))
		return
	}
	b, err := s.cfg.Tiles.ReadTile(r.Context(), t)
	if err == nil {
		err = s.inTree(r.Context(), t, b, published)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	if !t.Entries || !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Write(b)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Add("Vary", "Accept-Encoding")
	gz := s.gz.Get().(*gzip.Writer)
	defer s.gz.Put(gz)
	gz.Reset(w)
	gz.Write(b)
	gz.Close()
}

// inTree checks that b, the stored bytes of partial tile t, are what the
// published tree of size published holds at t: exactly t.Width hashes or
// entries, and the start of the tile at the published width. A flush that
// died before its commit point may have left partial tiles and bundles of
// widths no committed state has, holding entries nobody was told about;
// they are answered as not found, never served and cached. A tile at the
// published width is the one the committed state wrote; a full tile is the
// scrub's to check.
func (s *Server) inTree(ctx context.Context, t tiles.Tile, b []byte, published uint64) error {
	if t.Full() {
		return nil
	}
	cur, _ := tiles.TileFor(t.Level, t.Index, published)
	if t.Entries {
		cur, _ = tiles.BundleFor(t.Index, published)
		if _, err := tiles.ParseEntryBundle(b, t.Width); err != nil {
			return s.leftover(t, published, err.Error())
		}
	} else if len(b) != int(t.Width)*tiles.HashSize {
		return s.leftover(t, published, fmt.Sprintf("%d bytes", len(b)))
	}
	if cur == t {
		return nil
	}
	whole, err := s.cfg.Tiles.ReadTile(ctx, cur)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(whole, b) {
		return s.leftover(t, published, "not the start of "+cur.Path())
	}
	return nil
}

// leftover logs and returns the not-found error of a stored partial tile
// that the published tree does not hold.
func (s *Server) leftover(t tiles.Tile, published uint64, why string) error {
	s.log.Debug("refused a stored partial tile that is not in the published tree", "tile", t.Path(), "published", published, "why", why)
	return fmt.Errorf("%w: %s is not part of the published tree of size %d", errNotFound, t.Path(), published)
}

// publishedTile reports whether t belongs to the tree of some size up to the
// published size: a full tile inside it, or a partial tile no wider than the
// published one.
func publishedTile(t tiles.Tile, published uint64) bool {
	shift := uint(t.Level) * tiles.TileHeight // 0 for entry bundles
	if shift >= 64 || t.Index >= (1<<64-1)/tiles.TileWidth {
		return false
	}
	return t.Index*tiles.TileWidth+uint64(t.Width) <= published>>shift
}
