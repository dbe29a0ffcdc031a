// Command webapp is a small HTTP application whose every request is
// recorded in a ledger by audit.Middleware: a key-value store of records,
// GET, PUT and DELETE /records/{id}, with the user named by an X-User
// header (a stand-in for real authentication).
//
//	webapp --ledger http://127.0.0.1:8080 [--token TOKEN] [--mode closed|open] [--spool DIR] [--listen 127.0.0.1:8090]
//
// --token defaults to $LEDGER_TOKEN. GET /healthz is served without an
// event.
//
// In mode closed (the default) a response is sent only once its event is
// durable in the ledger, and is replaced by a 503 when the ledger is down.
// In mode open events go to an on-disk spool in DIR and on to the ledger in
// the background, and the application answers while the ledger is down.
// SIGINT or SIGTERM stops it: it finishes the requests in flight and, in
// mode open, keeps sending the spool for up to 10 s (what is left is sent
// by the next start).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/ledger-dev/ledger/audit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// options are the command line's.
type options struct {
	ledger, token, spool, mode, listen string
	level                              slog.Level
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.ledger, "ledger", "http://127.0.0.1:8080", "the ledger's base URL")
	// The default is read after parsing, so that --help never prints the
	// token that $LEDGER_TOKEN holds.
	fs.StringVar(&o.token, "token", "", "the ledger writer's bearer token (default $LEDGER_TOKEN; none if empty)")
	fs.StringVar(&o.mode, "mode", "closed", "closed: answer only once the event is durable in the ledger; open: spool events and answer regardless")
	fs.StringVar(&o.spool, "spool", "", "spool directory of mode open")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8090", "address to serve HTTP on")
	fs.TextVar(&o.level, "log-level", slog.LevelInfo, "the least severe `level` of log lines written: DEBUG, INFO, WARN or ERROR")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.token == "" {
		o.token = os.Getenv("LEDGER_TOKEN")
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.mode != "closed" && o.mode != "open":
		return o, fmt.Errorf("--mode is %q, want closed or open", o.mode)
	case o.mode == "open" && o.spool == "":
		return o, errors.New("--mode open needs --spool DIR")
	}
	return o, nil
}

// run serves until ctx is done. ready, if set, is called with the address
// it listens on.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.level}))
	client, err := audit.New(ctx, audit.Config{URL: o.ledger, Token: o.token, Logger: log})
	if err != nil {
		return err
	}
	cfg := audit.MiddlewareConfig{
		Actor:  func(r *http.Request) audit.Actor { return audit.Actor{ID: r.Header.Get("X-User"), Type: "user"} },
		Source: "web",
		Skip:   func(r *http.Request) bool { return r.URL.Path == "/healthz" },
	}
	var rec *audit.Recorder
	if o.mode == "open" {
		if rec, err = audit.NewRecorder(ctx, audit.RecorderConfig{Client: client, Dir: o.spool}); err != nil {
			return err
		}
		cfg.Recorder = rec
	} else {
		cfg.Client = client
	}
	mw, err := audit.NewMiddleware(cfg)
	if err != nil {
		return err
	}
	err = serve(ctx, o.listen, mw(newStore().routes()), log, ready)
	if rec != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = errors.Join(err, rec.Close(cctx))
	}
	return err
}

// serve serves h on addr until ctx is done, then lets the requests in
// flight finish.
func serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger, ready func(string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// store is the application: records in memory.
type store struct {
	mu      sync.Mutex
	records map[string]string
}

func newStore() *store { return &store{records: make(map[string]string)} }

func (s *store) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /records/{id}", s.get)
	mux.HandleFunc("PUT /records/{id}", s.put)
	mux.HandleFunc("DELETE /records/{id}", s.delete)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

func (s *store) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	v, ok := s.records[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no such record", http.StatusNotFound)
		return
	}
	writeJSON(w, map[string]string{"id": r.PathValue("id"), "value": v})
}

// put sets a record to the request's body, and adds the change to the
// request's audit event.
func (s *store) put(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-User") == "" {
		http.Error(w, "X-User required", http.StatusUnauthorized)
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<10))
	if err != nil {
		http.Error(w, "the value is at most 1 KiB", http.StatusRequestEntityTooLarge)
		return
	}
	id, v := r.PathValue("id"), string(b)
	s.mu.Lock()
	old, existed := s.records[id]
	s.records[id] = v
	s.mu.Unlock()
	change := audit.Change{New: jsonString(v)}
	if existed {
		change.Old = jsonString(old)
	}
	audit.RequestEvent(r).Changes = map[string]audit.Change{"value": change}
	writeJSON(w, map[string]string{"id": id, "value": v})
}

func (s *store) delete(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-User") == "" {
		http.Error(w, "X-User required", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	_, ok := s.records[r.PathValue("id")]
	delete(s.records, r.PathValue("id"))
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no such record", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
