package main

import (
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
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/note"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/access"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/keyindex"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/postgres"
	"github.com/ledger-dev/ledger/tiles"
)

func cmdServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	data := fs.String("data", "", "data directory; the tile log is DIR/log, servable by any static web server")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve HTTP on")
	keyFile := fs.String("key", "", "log private key (default DIR/log.key, created on first start)")
	origin := fs.String("origin", "", "log origin for a key created on first start (default <hostname>/ledger)")
	publishEvery := fs.Duration("publish-interval", time.Second, "longest a committed checkpoint waits to be published")
	maxPending := fs.Int("max-pending", 1<<18, "entries waiting to be sequenced before appends get 503")
	maxBody := fs.Int64("max-body", 32<<20, "largest request body in bytes")
	debugAddr := fs.String("debug-listen", "", "serve Go's /debug/pprof/ profiles on this address (off by default)")
	policyFile := fs.String("witness-policy", "", "C2SP tlog-policy naming the witnesses (with URLs) and the quorum")
	witnessTimeout := fs.Duration("witness-timeout", 5*time.Second, "how long one round of cosigning may take")
	noIndex := fs.Bool("no-index", false, "keep no query index: appends get its CPU; queries, reports and exports answer 404")
	pgURL := fs.String("postgres", "", "PostgreSQL connection URL: keep the log in that database instead of DIR/log (several instances may share it)")
	configFile := fs.String("config", "", "YAML configuration file: tokens, redaction keys, limits, rate limit, TLS (docs/access.md)")
	tokenFile := fs.String("tokens", "", "token file of `ledger token create` (default DIR/tokens.json); with neither it nor tokens in --config, the API is open to anyone")
	publicEntries := fs.Bool("public-entries", false, "serve entry bundles (the events' contents) to anyone, not only to auditors")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	tlsKey := fs.String("tls-key", "", "the private key of --tls-cert (PEM)")
	maxSkew := fs.Duration("max-future-skew", event.DefaultMaxFutureSkew, "refuse events whose own timestamp is more than this ahead of the ledger's clock")
	maxAge := fs.Duration("max-event-age", event.DefaultMaxAge, "refuse events whose own timestamp is more than this behind the ledger's clock")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return fmt.Errorf("%w: --data is required", errUsage)
	}
	conf, err := loadConfig(*configFile)
	if err != nil {
		return err
	}
	if err := conf.applyTo(fs, maxPending, maxBody, publicEntries, tlsCert, tlsKey, *maxSkew, *maxAge); err != nil {
		return err
	}
	if *tokenFile == "" {
		*tokenFile = filepath.Join(*data, access.FileName)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if os.Getenv("GOGC") == "" {
		// Nearly all garbage is short-lived request buffers; collecting
		// less often buys about a sixth of the CPU for appends. GOGC in the
		// environment still wins.
		debug.SetGCPercent(400)
	}
	if err := os.MkdirAll(*data, 0o755); err != nil {
		return err
	}
	keyring, err := access.NewKeyring(access.KeyringConfig{File: *tokenFile, Static: conf.Tokens, Logger: log})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	go keyring.Watch(ctx, time.Second)
	signer, vkey, err := openKey(*data, *keyFile, *origin, stdout)
	if err != nil {
		return err
	}
	var policy *tiles.Policy
	if *policyFile != "" {
		b, err := os.ReadFile(*policyFile)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if policy, err = tiles.ParsePolicy(b); err != nil {
			return fmt.Errorf("%w: %s: %v", errUsage, *policyFile, err)
		}
	}
	ls, err := openLogStorage(ctx, *data, *pgURL, log)
	if err != nil {
		return err
	}
	defer ls.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := ledger.NewMetrics()
	if err := metrics.Register(reg); err != nil {
		return err
	}
	lc := ls.ledgerConfig(signer)
	lc.MaxPending, lc.PublishInterval, lc.Logger, lc.Metrics = *maxPending, *publishEvery, log, metrics
	lc.Witnesses, lc.WitnessTimeout = policy, *witnessTimeout
	l, err := ledger.New(ctx, lc)
	if err != nil {
		return err
	}
	var idx indexStore
	if !*noIndex {
		var stopIndex func()
		if idx, stopIndex, err = startIndex(ctx, *data, ls.pool, ls.store, l, log); err != nil {
			return err
		}
		defer stopIndex()
	}
	api, err := httpapi.New(httpapi.Config{
		Ledger: l, Tiles: ls.store, Index: idx, MaxBodyBytes: *maxBody, Logger: log,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Limits:  conf.eventLimits(), Redactor: event.NewRedactor(append(slices.Clone(event.DefaultRedactKeys), conf.RedactKeys...)),
		Access: keyring, PublicEntries: *publicEntries, RateLimit: conf.RateLimit,
		Holds: hold.Open(filepath.Join(*data, hold.FileName)),
	})
	if err != nil {
		return err
	}
	if *debugAddr != "" {
		dln, err := net.Listen("tcp", *debugAddr)
		if err != nil {
			return err
		}
		go http.Serve(dln, debugMux())
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	announce(stdout, log, scheme+"://"+ln.Addr().String()+"/", signer.Name(), vkey, *data, *tokenFile, keyring)

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

// announce prints where the ledger serves, the verifier command for it and
// whether access control is on, and logs the same.
func announce(stdout io.Writer, log *slog.Logger, url, origin, vkey, data, tokenFile string, keyring *access.Keyring) {
	fmt.Fprintf(stdout, "ledger %s serving on %s\nverify it with:\n  verifier audit --log %s --vkey '%s'\n", origin, url, url, vkey)
	if keyring.Enabled() {
		fmt.Fprintf(stdout, "access control is on: %d tokens (%s)\n", len(keyring.Tokens()), tokenFile)
	} else {
		fmt.Fprintf(stdout, "access control is OFF: anyone can append and read; create a token (ledger token create --data %s --role admin) and restart to turn it on\n", data)
		log.Warn("access control is off: no token file and no tokens in the configuration", "token_file", tokenFile)
	}
	log.Info("serving", "url", url, "origin", origin, "data", data, "access_control", keyring.Enabled())
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

// openLogStorage opens the log in PostgreSQL at pgURL when it is set, else
// the posix driver in DIR/log.
func openLogStorage(ctx context.Context, data, pgURL string, log *slog.Logger) (*logStorage, error) {
	if pgURL == "" {
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
	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		return nil, fmt.Errorf("couldn't connect to PostgreSQL: %w", err)
	}
	store, err := postgres.Open(ctx, postgres.Config{Pool: pool, Logger: log, KeyOf: event.KeyOf})
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &logStorage{store: store, pool: pool}, nil
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

// openKey loads the log key from keyFile, or from DIR/log.key, creating the
// latter on first start and printing its vkey.
func openKey(data, keyFile, origin string, stdout io.Writer) (note.Signer, string, error) {
	path := keyFile
	if path == "" {
		path = filepath.Join(data, "log.key")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if origin == "" {
				host, err := os.Hostname()
				if err != nil {
					return nil, "", err
				}
				origin = host + "/ledger"
			}
			vkey, err := createKey(origin, path)
			if err != nil {
				return nil, "", err
			}
			fmt.Fprintf(stdout, "created log key %s\nlog vkey: %s\n", path, vkey)
		}
	}
	signer, err := loadSigner(path)
	if err != nil {
		return nil, "", err
	}
	if origin != "" && origin != signer.Name() {
		return nil, "", fmt.Errorf("%w: --origin %q does not match the key's name %q", errUsage, origin, signer.Name())
	}
	vkey, err := os.ReadFile(path + ".pub")
	if err != nil {
		return nil, "", fmt.Errorf("couldn't read the vkey beside the key: %w", err)
	}
	return signer, string(trimNewline(vkey)), nil
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

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
