// Command witness is a C2SP tlog-witness: it cosigns a log's checkpoints only
// if they extend, append-only, what it cosigned before. See docs/witness.md.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ledger-dev/ledger/internal/version"
	"github.com/ledger-dev/ledger/ledger/witness"
	"github.com/ledger-dev/ledger/ledger/witness/postgres"
	"github.com/ledger-dev/ledger/tiles"
)

const usage = `usage: witness <command> [flags]

commands:
  keygen --name NAME --key FILE            create a cosignature/v1 key (FILE, FILE.pub)
  serve  --key FILE --logs FILE (--state DIR | --postgres URL) [--listen ADDR]
                                           run the witness

Run 'witness <command> --help' for a command's flags, 'witness --version'
for the build.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a mistake in the command line (exit code 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "keygen":
		err = keygen(args[1:], stdout, stderr)
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version.String("witness"))
		return 0
	default:
		fmt.Fprintf(stderr, "witness: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(stderr, "witness %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "witness %s: %v\n", args[0], err)
		return 1
	}
}

// parse parses a command's flags. --help lists them on stdout; a mistake
// is a usage error, which run reports.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: %s [flags]\n\nflags:\n", fs.Name())
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return err
		}
		return usagef("%v (see '%s --help')", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func keygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("witness keygen", flag.ContinueOnError)
	name := fs.String("name", "", "the witness's key name, e.g. witness.example.com/w1")
	keyFile := fs.String("key", "", "where to write the private key; the vkey goes to FILE.pub")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if *name == "" || *keyFile == "" {
		return usagef("--name and --key are required")
	}
	skey, vkey, err := tiles.GenerateCosignatureKey(rand.Reader, *name)
	if err != nil {
		return usagef("%v", err)
	}
	f, err := os.OpenFile(*keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, iofs.ErrExist) {
		return fmt.Errorf("%s already exists; refusing to overwrite a key", *keyFile)
	}
	if err != nil {
		return err
	}
	_, err = f.WriteString(skey + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(*keyFile+".pub", []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout, vkey)
	return nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("witness serve", flag.ContinueOnError)
	keyFile := fs.String("key", "", "the witness's private key (from witness keygen)")
	logsFile := fs.String("logs", "", `the logs to witness: tlog-policy "log <vkey> [url]" lines`)
	stateDir := fs.String("state", "", "directory for the latest cosigned checkpoint of each log")
	pgURL := fs.String("postgres", "", "PostgreSQL URL to keep the state in instead of --state")
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve HTTP on")
	var level slog.Level
	fs.TextVar(&level, "log-level", slog.LevelInfo, "the least severe `level` of log lines written: DEBUG, INFO, WARN or ERROR")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if *keyFile == "" || *logsFile == "" || (*stateDir == "") == (*pgURL == "") {
		return usagef("--key, --logs and one of --state or --postgres are required")
	}
	signer, logs, err := loadConfig(*keyFile, *logsFile)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, *stateDir, *pgURL)
	if err != nil {
		return err
	}
	defer store.Close()
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	w, err := witness.New(witness.Config{Signer: signer, Logs: logs, Store: store, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "witness %s serving on http://%s/ for %d logs\nvkey: %s\n", signer.Name(), ln.Addr(), len(logs), signer.Verifier().VKey())
	// Bodies are at most 16 KiB: a client that takes longer than this to send
	// one, or idles on a connection for longer, is cut off.
	handler, err := instrumented(witness.Handler(w), signer.Name(), len(logs))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// instrumented serves the witness protocol h with its requests counted and
// timed by status code, and beside it GET /healthz and GET /metrics
// (Prometheus: witness_http_*, Go and process collectors).
func instrumented(h http.Handler, name string, logs int) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "witness_http_requests_total",
		Help: "add-checkpoint requests answered, by method and status code (409: a stale or conflicting checkpoint)."}, []string{"code", "method"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "witness_http_request_duration_seconds",
		Help: "Time to answer an add-checkpoint request.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"code", "method"})
	for _, c := range []prometheus.Collector{requests, duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/", promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(requests, h)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"status\":\"ok\",\"name\":%q,\"logs\":%d}\n", name, logs)
	})
	return mux, nil
}

// loadConfig reads the witness's key and the logs it witnesses.
func loadConfig(keyFile, logsFile string) (*tiles.CosignatureSigner, []witness.Log, error) {
	skey, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, usagef("%w", err)
	}
	signer, err := tiles.NewCosignatureSigner(strings.TrimSpace(string(skey)), nil)
	if err != nil {
		return nil, nil, usagef("%s: %w", keyFile, err)
	}
	list, err := os.ReadFile(logsFile)
	if err != nil {
		return nil, nil, usagef("%w", err)
	}
	parsed, err := tiles.ParseLogs(list)
	if err != nil {
		return nil, nil, usagef("%s: %w", logsFile, err)
	}
	var logs []witness.Log
	for _, l := range parsed {
		logs = append(logs, witness.Log{Origin: l.Verifier.Name(), Verifier: l.Verifier})
	}
	return signer, logs, nil
}

// store is a witness.Store that holds resources until closed.
type store interface {
	witness.Store
	io.Closer
}

// openStore opens the file store in dir, or the PostgreSQL store at pgURL.
func openStore(ctx context.Context, dir, pgURL string) (store, error) {
	if pgURL != "" {
		return postgres.Open(ctx, postgres.Config{DSN: pgURL})
	}
	return witness.OpenFileStore(ctx, witness.FileStoreConfig{Dir: dir})
}
