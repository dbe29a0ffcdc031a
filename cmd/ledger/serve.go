package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/net/netutil"
	"golang.org/x/sys/unix"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/access"
	"github.com/ledger-dev/ledger/ledger/archive"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/console"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	pgindex "github.com/ledger-dev/ledger/ledger/index/postgres"
	"github.com/ledger-dev/ledger/ledger/keyindex"
	"github.com/ledger-dev/ledger/ledger/prune"
	"github.com/ledger-dev/ledger/ledger/scrub"
	"github.com/ledger-dev/ledger/ledger/storage/bucket"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/postgres"
	"github.com/ledger-dev/ledger/tiles"
)

func cmdServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("serve")
	data := fs.String("data", "", "data directory; the tile log is DIR/log, servable by any static web server")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve HTTP on")
	keyFile := fs.String("key", "", "log private key (default DIR/log.key)")
	initLog := fs.Bool("init", false, "start a new log if DIR holds none: create DIR and its key DIR/log.key (without it, a DIR with no log is refused)")
	origin := fs.String("origin", "", "log origin of the key --init creates (default <hostname>/ledger); with an existing key, must be its name")
	publishEvery := fs.Duration("publish-interval", time.Second, "longest a committed checkpoint waits to be published")
	maxPending := fs.Int("max-pending", 1<<18, "entries waiting to be sequenced before appends get 503")
	maxBody := fs.Int64("max-body", 32<<20, "largest request body in bytes")
	maxBodyMemory := fs.Int64("max-body-memory", 128<<20, "bytes of append bodies read at once, over all requests; past it appends get 503 (at least --max-body)")
	maxConns := fs.Int("max-connections", 0, "connections served at once; more wait to be accepted (default: the open-file limit less 1024 kept for storage, at least 64)")
	readTimeout := fs.Duration("read-timeout", time.Minute, "longest a client may take to send a request, headers and body")
	scrubEvery := fs.Duration("scrub-interval", 24*time.Hour, "start a background check of every stored bundle and tile against the committed tree this often (0: never)")
	scrubRate := fs.Float64("scrub-rate", 100, "bundles (256 entries each, with their tiles) the background check reads a second")
	writeTimeout := fs.Duration("write-timeout", 2*time.Minute, "longest an answer may take, from the end of its request (exports are exempt); above the 30 s a wait=published|cosigned append may wait")
	debugAddr := fs.String("debug-listen", "", "serve Go's /debug/pprof/ profiles on this address (off by default)")
	policyFile := fs.String("witness-policy", "", "C2SP tlog-policy naming the witnesses (with URLs) and the quorum")
	witnessTimeout := fs.Duration("witness-timeout", 5*time.Second, "how long one round of cosigning may take")
	noIndex := fs.Bool("no-index", false, "keep no query index: appends get its CPU; queries, reports and exports answer 404")
	pgURL := fs.String("postgres", "", "PostgreSQL connection URL: keep the log in that database instead of DIR/log (several instances may share it)")
	bucketURL := fs.String("bucket", "", "keep the tiles, bundles and published checkpoint in this bucket (s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=true]) or directory, sequenced by --postgres (docs/object-storage.md)")
	configFile := fs.String("config", "", "YAML configuration file: tokens, redaction keys, limits, rate limit, TLS (docs/access.md)")
	tokenFile := fs.String("tokens", "", "the token file that 'ledger token create' writes (default DIR/tokens.json); with neither it nor tokens in --config, the API is open to anyone")
	publicEntries := fs.Bool("public-entries", false, "serve entry bundles (the events' contents) to anyone, not only to auditors")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	tlsKey := fs.String("tls-key", "", "the private key of --tls-cert (PEM)")
	var level slog.Level
	fs.TextVar(&level, "log-level", slog.LevelInfo, "the least severe `level` of log lines written: DEBUG, INFO, WARN or ERROR")
	readOnly := fs.Bool("read-only", false, "serve the read API and queries of a log in --postgres (and --bucket) with no sequencing: appends get 403; needs only the log's public key (--vkey, or the .pub beside --key)")
	vkeyFlag := fs.String("vkey", "", "with --read-only: the log's verifier key (default: the .pub file beside --key, or DIR/log.key.pub)")
	maxSkew := fs.Duration("max-future-skew", event.DefaultMaxFutureSkew, "refuse events whose own timestamp is more than this ahead of the ledger's clock")
	maxAge := fs.Duration("max-event-age", event.DefaultMaxAge, "refuse events whose own timestamp is more than this behind the ledger's clock")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return fmt.Errorf("%w: --data is required", errUsage)
	}
	// Listen before anything is created in DIR, so that a wrong --listen
	// or a port in use leaves nothing behind.
	ln, err := listenTCP("--listen", *listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	var dln net.Listener
	if *debugAddr != "" {
		if dln, err = listenTCP("--debug-listen", *debugAddr); err != nil {
			return err
		}
		defer dln.Close()
	}
	conf, err := loadConfig(*configFile)
	if err != nil {
		return err
	}
	if err := conf.applyTo(fs, maxPending, maxBody, publicEntries, tlsCert, tlsKey, *maxSkew, *maxAge); err != nil {
		return err
	}
	where := logLocation{postgres: *pgURL, bucket: *bucketURL}
	if !flagGiven(fs, "bucket") {
		where.bucket = conf.Bucket
	}
	if err := where.check(); err != nil {
		return err
	}
	if *readOnly && where.postgres == "" {
		return fmt.Errorf("%w: --read-only needs --postgres: it follows a log that other instances sequence there", errUsage)
	}
	if *vkeyFlag != "" && !*readOnly {
		return fmt.Errorf("%w: --vkey is for --read-only; an instance that sequences signs with --key", errUsage)
	}
	if *tokenFile == "" {
		*tokenFile = filepath.Join(*data, access.FileName)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	if os.Getenv("GOGC") == "" {
		// Nearly all garbage is short-lived request buffers; collecting
		// less often buys about a sixth of the CPU for appends. GOGC in the
		// environment still wins.
		debug.SetGCPercent(400)
	}
	if err := dataDir(*data, *initLog); err != nil {
		return err
	}
	warnLooseModes(log, *data, *keyFile, *tokenFile)
	keyring, err := access.NewKeyring(access.KeyringConfig{File: *tokenFile, Static: conf.Tokens, Logger: log})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	go keyring.Watch(ctx, time.Second)
	var signer note.Signer
	var verifier note.Verifier
	var vkey string
	if *readOnly {
		verifier, vkey, err = openVerifier(*data, *keyFile, *vkeyFlag)
		if err != nil {
			return err
		}
	} else {
		key, err := openKey(*data, *keyFile, *origin, *initLog, stdout)
		if err != nil {
			return err
		}
		warnKeyMode(key.path, stdout, log)
		signer, vkey = key.signer, key.vkey
	}
	var logKey ledger.LogKey = verifier
	if signer != nil {
		logKey = signer
	}
	var policy *tiles.Policy
	var policyText []byte
	if *policyFile != "" {
		b, err := os.ReadFile(*policyFile)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		policyText = b
		if policy, err = tiles.ParsePolicy(b); err != nil {
			return fmt.Errorf("%w: %s: %v", errUsage, *policyFile, err)
		}
		if err := ledger.CheckWitnessPolicy(policy, logKey); err != nil {
			return fmt.Errorf("%w: --witness-policy %s: %v", errUsage, *policyFile, err)
		}
	}
	ls, err := openLogStorage(ctx, *data, where, log)
	if err != nil {
		return err
	}
	defer ls.Close()
	arch, err := openArchive(ctx, conf.Archive)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, requestMetrics := ledger.NewMetrics(), httpapi.NewMetrics()
	if err := errors.Join(metrics.Register(reg), requestMetrics.Register(reg)); err != nil {
		return err
	}
	lc := ls.ledgerConfig(signer)
	lc.MaxPending, lc.PublishInterval, lc.Logger, lc.Metrics = *maxPending, *publishEvery, log, metrics
	lc.Witnesses, lc.WitnessTimeout = policy, *witnessTimeout
	lc.ReadOnly, lc.Verifier = *readOnly, verifier
	l, err := ledger.New(ctx, lc)
	if err != nil {
		return err
	}
	if !*readOnly {
		if err := recordRetentionPolicy(ctx, l, conf, *data, log); err != nil {
			return err
		}
	}
	var idx indexStore
	switch {
	case *noIndex:
	case *readOnly:
		// The instances that sequence fill the shared index; this one only
		// queries it.
		if idx, err = openIndex(ctx, "", pgindex.Config{Pool: ls.pool}); err != nil {
			return err
		}
		defer idx.Close()
	default:
		var stopIndex func()
		if idx, stopIndex, err = startIndex(ctx, *data, ls.pool, ls.store, l, log, reg); err != nil {
			return err
		}
		defer stopIndex()
	}
	var integrity *scrub.Scrubber
	if *scrubEvery > 0 {
		sm := scrub.NewMetrics()
		if err := sm.Register(reg); err != nil {
			return err
		}
		integrity, err = scrub.New(scrub.Config{Tiles: ls.store, Interval: *scrubEvery, Rate: *scrubRate, Logger: log, Metrics: sm,
			Tree: func() tiles.Checkpoint { return publishedCheckpoint(l) }})
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		go integrity.Run(ctx)
	}
	tileReads, archiveRuns, err := arch.serve(ctx, conf, l, ls.store, vkey, *readOnly, log, reg)
	if err != nil {
		return err
	}
	holds := hold.Open(filepath.Join(*data, hold.FileName))
	pruner, err := startPruner(ctx, ls.store, idx, l, conf, holds, arch.locate(vkey), *data, *readOnly, log)
	if err != nil {
		return err
	}
	seal, subjectKeys, err := conf.sealConfig(ctx, *data, ls.pool)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	web, err := console.New(console.Config{VKey: vkey, Policy: string(policyText), AccessControl: keyring.Enabled})
	if err != nil {
		return err
	}
	api, err := httpapi.New(httpapi.Config{
		Ledger: l, Tiles: tileReads, Index: idx, Archive: archiveRuns, MaxBodyBytes: *maxBody, MaxBodyMemory: *maxBodyMemory, Logger: log,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), RequestMetrics: requestMetrics,
		Limits: conf.eventLimits(), Redactor: conf.redactor(), Seal: seal, SubjectKeys: subjectKeys,
		Access: keyring, PublicEntries: *publicEntries, RateLimit: conf.RateLimit,
		Holds: holds, Retention: conf.policy, Pruned: prunedReader(ls.store), Prune: pruner,
		Mounts: []httpapi.Mount{{Path: console.Path, Handler: web}}, Integrity: integrityCheck(integrity),
	})
	if err != nil {
		return err
	}
	if seal != nil && !*readOnly {
		// Crypto-shredding at max (docs/retention.md), and the events of
		// erasures a crash left pending: as often as the key store rounds
		// a key's newest event.
		go api.RunShredder(ctx, keyResolution(conf.policy))
	}
	if dln != nil {
		go http.Serve(dln, debugMux())
	}
	if *maxConns <= 0 {
		*maxConns = defaultMaxConnections()
	}
	// Past the limit, connections wait in the kernel's accept queue rather
	// than take the file descriptors storage needs (a flush opens files).
	ln = netutil.LimitListener(ln, *maxConns)
	srv := &http.Server{Handler: console.RedirectRoot(api), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: *readTimeout,
		WriteTimeout: *writeTimeout, IdleTimeout: 2 * time.Minute}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	banner{url: scheme + "://" + ln.Addr().String() + "/", origin: l.Origin(), vkey: vkey,
		policyFile: *policyFile, data: *data, tokenFile: *tokenFile}.announce(stdout, log, keyring)

	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	return l.Close(shutdownCtx)
}

// pruneStateFile, in the data directory, records the minimum index the
// last retention.pruned event logged (prune.Config.StateFile).
const pruneStateFile = "prune.json"

// startPruner returns the runner of POST /v1/admin/prune and of
// retention.prune_every, which it starts, after logging a prune that a
// crash left unlogged. It returns nil (the endpoint answers 404) for a
// ledger that cannot prune: --read-only, without the query index, or over
// storage that cannot.
func startPruner(ctx context.Context, store ledger.Storage, idx indexStore, l *ledger.Ledger, conf *serveConfig, holds *hold.Store,
	archived func(context.Context) (tiles.Archive, error), data string, readOnly bool, log *slog.Logger) (httpapi.Pruner, error) {
	ps, ok := store.(prune.Storage)
	if !ok || readOnly || idx == nil {
		if conf.Retention.PruneEvery > 0 {
			return nil, fmt.Errorf("%w: retention.prune_every needs an instance that writes (no --read-only) with the query index (no --no-index)", errUsage)
		}
		return nil, nil
	}
	r, err := prune.New(prune.Config{Storage: ps, Index: idx, Policy: conf.policy, Holds: holds.List, Append: ownAppender(l, conf),
		Archive: archived, StateFile: filepath.Join(data, pruneStateFile), Logger: log})
	if err != nil {
		return nil, err
	}
	if err := r.Recover(ctx); err != nil {
		return nil, fmt.Errorf("couldn't log an earlier prune in the log: %w", err)
	}
	if every := conf.Retention.PruneEvery; every > 0 {
		go r.Every(ctx, every)
	}
	return r, nil
}

// locate returns the archive's verified location and reach, which the
// left edge may not pass (prune.Config.Archive); nil without an archive.
func (t *archiveTarget) locate(vkey string) func(context.Context) (tiles.Archive, error) {
	if t == nil {
		return nil
	}
	policy, err := tiles.NewLogPolicy(vkey)
	return func(ctx context.Context) (tiles.Archive, error) {
		if err != nil {
			return tiles.Archive{}, err
		}
		return archive.Locate(ctx, t.store, policy)
	}
}

// prunedReader returns the storage's answer to GET /pruned.json, nil for
// storage that never prunes.
func prunedReader(store ledger.Storage) httpapi.PrunedReader {
	if p, ok := store.(ledger.Pruner); ok {
		return p
	}
	return nil
}

// storage is what serve needs of a storage driver.
type storage interface {
	ledger.Storage
	io.Closer
}

// logStorage is a data directory's log as serve opens it. serve and
// `ledger bench fill` both open it with openLogStorage and take their
// ledger.Config from ledgerConfig, so that what a log is stored in is
// decided in one place.
type logStorage struct {
	store storage
	keys  *keyindex.Store // posix: the embedded idempotency-key index; nil with PostgreSQL, which keeps the keys itself
	pool  *pgxpool.Pool   // with --postgres, shared by the log and the index; else nil
}

// logLocation is where a log is kept: DIR/log (posix) when both are
// empty, PostgreSQL alone, or a bucket sequenced by PostgreSQL.
type logLocation struct {
	postgres string // PostgreSQL connection URL
	bucket   string // s3:// URL or directory of the objects (openObjects)
}

func (w logLocation) check() error {
	if w.bucket != "" && w.postgres == "" {
		return fmt.Errorf("%w: --bucket needs --postgres: PostgreSQL sequences a log whose tiles are in a bucket", errUsage)
	}
	return nil
}

// openLogStorage opens the log where w says.
func openLogStorage(ctx context.Context, data string, w logLocation, log *slog.Logger) (*logStorage, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	if w.postgres == "" {
		store, err := posix.Open(ctx, posix.Config{Dir: filepath.Join(data, "log")})
		if err != nil {
			return nil, err
		}
		keys, err := keyindex.Open(ctx, keyindex.Config{Path: filepath.Join(data, keyindex.FileName)})
		if err != nil {
			store.Close()
			return nil, err
		}
		return &logStorage{store: store, keys: keys}, nil
	}
	var objects blob.Store
	if w.bucket != "" {
		var err error
		if objects, err = openObjects(ctx, w.bucket); err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.New(ctx, w.postgres)
	if err != nil {
		return nil, fmt.Errorf("couldn't connect to PostgreSQL: %w", err)
	}
	db, err := postgres.Open(ctx, postgres.Config{Pool: pool, Logger: log, KeyOf: event.KeyOf})
	if err == nil {
		err = checkTilesWhere(ctx, db, objects != nil)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	if objects == nil {
		return &logStorage{store: db, pool: pool}, nil
	}
	store, err := bucket.New(bucket.Config{Objects: objects, DB: db, Logger: log})
	if err != nil {
		pool.Close()
		return nil, err
	}
	// A prune cut short between the database and the bucket is completed
	// now; failing that, by the next prune (the bundles are refused
	// meanwhile, deleted or not).
	if err := store.Resume(ctx); err != nil {
		log.Warn("couldn't complete a prune cut short; the next prune completes it", "err", err)
	}
	return &logStorage{store: store, pool: pool}, nil
}

// checkTilesWhere refuses a database whose log keeps its tiles elsewhere
// than the flags say: in the database, with --bucket given, or in a
// bucket, without it. Either way every tile read would fail.
func checkTilesWhere(ctx context.Context, db *postgres.Storage, inBucket bool) error {
	st, err := db.State(ctx)
	if err != nil || st.Size == 0 {
		return err
	}
	holds, err := db.HoldsTiles(ctx)
	switch {
	case err != nil:
		return err
	case holds && inBucket:
		return fmt.Errorf("%w: the log in this database keeps its tiles in PostgreSQL, not in a bucket: drop --bucket", errUsage)
	case !holds && !inBucket:
		return fmt.Errorf("%w: the log in this database (size %d) keeps its tiles in a bucket: give its --bucket", errUsage, st.Size)
	}
	return nil
}

// ledgerConfig returns the ledger.Config fields that the storage decides,
// with signer; callers set the rest.
func (s *logStorage) ledgerConfig(signer note.Signer) ledger.Config {
	c := ledger.Config{Storage: s.store, Signer: signer, KeyOf: event.KeyOf}
	if s.keys != nil {
		c.Keys = s.keys
	}
	return c
}

// Close closes the storage, its key index and then its pool.
func (s *logStorage) Close() error {
	err := s.store.Close()
	if s.keys != nil {
		err = errors.Join(err, s.keys.Close())
	}
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// listenTCP listens on addr, given as flag: an address that is not
// host:port is a usage error, one that cannot be listened on a failure.
func listenTCP(name, addr string) (net.Listener, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("%w: %s %q is not a host:port address such as 127.0.0.1:8080 (%v)", errUsage, name, addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("couldn't listen on %s %s (is another server using it?): %w", name, addr, err)
	}
	return ln, nil
}

// dataDir checks that the data directory exists, creating it with init: a
// mistyped --data is refused instead of starting a new, empty log.
func dataDir(data string, init bool) error {
	if init {
		// 0700: it holds the log key, the tokens and the events.
		return os.MkdirAll(data, 0o700)
	}
	st, err := os.Stat(data)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: no data directory %s: is --data right? To start a new log there, add --init (and --origin)", errUsage, data)
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: --data %s is not a directory", errUsage, data)
	}
	return nil
}

// publishedCheckpoint returns the checkpoint l publishes (verified when it
// was published, by this instance or the one it follows), or the empty tree
// before there is one.
func publishedCheckpoint(l *ledger.Ledger) tiles.Checkpoint {
	n, _ := l.Published()
	text, _, _ := bytes.Cut(n, []byte("\n\n"))
	cp, err := tiles.ParseCheckpoint(append(text, '\n'))
	if err != nil {
		return tiles.Checkpoint{Origin: l.Origin(), Hash: tiles.EmptyRoot}
	}
	return cp
}

// integrityCheck returns s as httpapi's Integrity, nil (no check) if s is.
func integrityCheck(s *scrub.Scrubber) interface{ Check(tiles.Tile) error } {
	if s == nil {
		return nil
	}
	return s
}

// defaultMaxConnections is the open-file limit less 1024 descriptors kept
// for storage and the indexes, and at least 64.
func defaultMaxConnections() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<20 {
		return 1 << 16
	}
	return max(64, int(lim.Cur)-1024)
}

// openVerifier returns the log's verifier for a read-only instance: from
// vkey if set, else from the .pub file beside keyFile (default
// DIR/log.key). The private key is not read.
func openVerifier(data, keyFile, vkey string) (note.Verifier, string, error) {
	if vkey == "" {
		path := cmp.Or(keyFile, filepath.Join(data, "log.key")) + ".pub"
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("%w: a read-only instance needs the log's public key: give --vkey, or --key beside whose FILE.pub it is: %v", errUsage, err)
		}
		vkey = string(trimNewline(b))
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, "", fmt.Errorf("%w: --vkey: %v", errUsage, err)
	}
	return v, vkey, nil
}

// debugMux serves the pprof profiles, on their own listener so that they
// are never exposed on the API address.
func debugMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
