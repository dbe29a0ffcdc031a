package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledger-dev/ledger/internal/progress"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/index"
	pgindex "github.com/ledger-dev/ledger/ledger/index/postgres"
	"github.com/ledger-dev/ledger/ledger/index/sqlite"
	"github.com/ledger-dev/ledger/ledger/keyindex"
	"github.com/ledger-dev/ledger/tiles"
)

// indexStore is an index backend as the commands use it.
type indexStore interface {
	index.Store
	httpapi.Index
	Close() error
}

// openIndex opens the PostgreSQL index that pg names (by DSN or pool), or
// else, when pg is zero, the SQLite index file at path.
func openIndex(ctx context.Context, path string, pg pgindex.Config) (indexStore, error) {
	if pg != (pgindex.Config{}) {
		return pgindex.Open(ctx, pg)
	}
	return sqlite.Open(ctx, sqlite.Config{Path: path})
}

// startIndex opens the server's index — in the log's PostgreSQL database,
// through the log's pool, when pool is set, or else in SQLite at
// DIR/index.sqlite — and starts a follower that catches up with the log and
// then keeps up with it. stop ends the follower and closes the index. It
// refuses an index that holds more entries than the log (index.ErrAhead).
func startIndex(ctx context.Context, data string, pool *pgxpool.Pool, store ledger.Storage, l *ledger.Ledger, log *slog.Logger, reg prometheus.Registerer) (idx indexStore, stop func(), err error) {
	idx, f, err := openFollower(ctx, data, pool, store, log)
	if err != nil {
		return nil, nil, err
	}
	if err := f.Check(ctx); err != nil {
		idx.Close()
		return nil, nil, err
	}
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ledger_index_lag_entries",
		Help: "Committed entries not yet in the query index."}, func() float64 {
		committed, indexed := l.Committed().Size, f.Indexed()
		if indexed > committed { // a Sync raced the read of the size
			return 0
		}
		return float64(committed - indexed)
	})
	if err := reg.Register(lag); err != nil {
		idx.Close()
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { f.Run(runCtx) })
	return idx, func() { cancel(); wg.Wait(); idx.Close() }, nil
}

// openFollower opens the server's index (see startIndex) and a follower
// that fills it from store up to the size store has committed.
func openFollower(ctx context.Context, data string, pool *pgxpool.Pool, store ledger.Storage, log *slog.Logger) (indexStore, *index.Follower, error) {
	idx, err := openIndex(ctx, filepath.Join(data, "index.sqlite"), pgindex.Config{Pool: pool})
	if err != nil {
		return nil, nil, err
	}
	cfg := index.FollowerConfig{Store: idx, Log: index.StorageLog(store), Logger: log,
		Size: func(ctx context.Context) (uint64, error) {
			st, err := store.State(ctx)
			return st.Size, err
		}}
	if p, ok := store.(ledger.Pruner); ok {
		cfg.Minimum = func(ctx context.Context) (uint64, error) {
			pr, err := p.Pruned(ctx)
			return pr.MinimumIndex, err
		}
	}
	f, err := index.NewFollower(cfg)
	if err != nil {
		idx.Close()
		return nil, nil, err
	}
	return idx, f, nil
}

const indexUsage = `usage: ledger index rebuild|verify --data DIR [flags]

  rebuild   delete the query index and fill it again from the log's tiles;
            the same for the key index (DIR/keys.sqlite) when the ledger is
            not running
  verify    recompute every row of the query index from the log's tiles, and
            check that the key index (DIR/keys.sqlite, or the PostgreSQL
            log's) holds the key of every keyed entry below its watermark
            with that entry's index and leaf hash; report each row that
            differs (exit status 1 if any)

The log is read through the verifying client: every tile is authenticated
against the published checkpoint, which must verify with the log's key.
`

// cmdIndex runs `ledger index rebuild` and `ledger index verify`.
func cmdIndex(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, indexUsage)
		return fmt.Errorf("%w: want rebuild or verify", errUsage)
	}
	sub := args[0]
	switch sub {
	case "-h", "-help", "--help", "help":
		return helpText(indexUsage)
	case "rebuild", "verify":
	default:
		return fmt.Errorf("%w: unknown subcommand %q: want rebuild or verify (see 'ledger index --help')", errUsage, sub)
	}
	fs := newFlags("index " + sub)
	fs.Usage = usageText(fs, indexUsage)
	data := fs.String("data", "", "the ledger's data directory: index DIR/index.sqlite, log DIR/log, key DIR/log.key.pub")
	file := fs.String("index", "", "the SQLite index file (default DIR/index.sqlite)")
	keysAt := fs.String("keys", "", "the SQLite key index file (default DIR/keys.sqlite)")
	pgURL := fs.String("postgres", "", "PostgreSQL URL of an index and log kept in PostgreSQL (instead of SQLite)")
	logAt := fs.String("log", "", "the log: a tile directory or an http(s) URL prefix (default DIR/log)")
	vkey := fs.String("vkey", "", "the log's verifier key (default: the contents of DIR/log.key.pub)")
	token := tokenFlag(fs, "an auditor")
	fs.Lookup("token").Usage = "with --log URL: the API `token` of an auditor, to read entry bundles (default $LEDGER_TOKEN)"
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := dataDefaults(*data, file, keysAt, logAt, vkey); err != nil {
		return err
	}
	if *pgURL == "" && *file == "" {
		return fmt.Errorf("%w: give --data, --index or --postgres", errUsage)
	}
	tree, err := openTree(ctx, *logAt, *vkey, *token)
	if err != nil {
		return err
	}
	pruned, err := fetchPruned(ctx, *logAt, *token)
	if err != nil {
		return err
	}
	idx, err := openIndex(ctx, *file, pgindex.Config{DSN: *pgURL})
	if err != nil {
		return err
	}
	defer idx.Close()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	size := tree.Checkpoint().Size
	if sub == "rebuild" {
		from := min(pruned.MinimumIndex, size)
		bar := progress.New(stderr, int64(size-from), "indexing")
		err := index.Rebuild(ctx, idx, progressLog{index.TreeLog(tree), bar}, from, size, log)
		bar.Finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "indexed %d entries, up to the checkpoint of size %d\n", size-from, size)
		if from > 0 {
			fmt.Fprintf(stdout, "entries below %d are pruned: not indexed\n", from)
		}
		if *pgURL != "" || *data == "" { // the PostgreSQL log writes its keys with its entries
			return nil
		}
		if from > 0 {
			// Its keys were read from bundles the log no longer has.
			fmt.Fprintf(stdout, "key index %s kept as it is: the log is pruned, and the keys of pruned entries cannot be read again\n", *keysAt)
			return nil
		}
		return rebuildKeys(ctx, *keysAt, filepath.Join(*data, "log"), tree, stdout, log)
	}
	reopen := func() (*tiles.Tree, error) { return openTree(ctx, *logAt, *vkey, *token) }
	return verifyIndexes(ctx, idx, *keysAt, *pgURL, tree, pruned.MinimumIndex, reopen, stdout, stderr, log)
}

// verifyIndexes verifies the query index and, if there is one, the key
// index, failing if either differs from the log.
func verifyIndexes(ctx context.Context, idx indexStore, keysAt, pgURL string, tree *tiles.Tree, minimum uint64, reopen func() (*tiles.Tree, error), stdout, stderr io.Writer, log *slog.Logger) error {
	indexOK, beyond, err := verifyIndex(ctx, idx, tree, minimum, stdout, stderr)
	if err == nil && indexOK && beyond > 0 {
		// A running ledger indexes what it committed before it publishes
		// it: rows a little ahead of the checkpoint are checked against
		// the next one. Rows still ahead then are not the log's.
		time.Sleep(2 * time.Second)
		if tree, err = reopen(); err != nil {
			return err
		}
		indexOK, beyond, err = verifyIndex(ctx, idx, tree, minimum, stdout, stderr)
	}
	if err != nil {
		return err
	}
	if indexOK && beyond > 0 {
		return fmt.Errorf("%w: the index holds %d rows beyond the log's published size %d (was the log rolled back or replaced?); `ledger index rebuild` fills it again from the log",
			index.ErrAhead, beyond, tree.Checkpoint().Size)
	}
	keysOK := true
	ks, err := openKeyStore(ctx, keysAt, pgURL, log)
	if err != nil {
		return err
	}
	if ks == nil {
		fmt.Fprintf(stdout, "no key index (%s): not checked\n", keysAt)
	} else {
		defer ks.Close()
		if keysOK, err = verifyKeys(ctx, ks, tree, minimum, stdout); err != nil {
			return err
		}
	}
	switch {
	case !indexOK:
		return errors.New("the index differs from the log; `ledger index rebuild` recreates it")
	case !keysOK:
		return errors.New("the key index differs from the log; `ledger index rebuild` with the ledger stopped recreates it")
	}
	return nil
}

// printMismatches prints the problems a verify found, one a line after
// label, and how many more there were.
func printMismatches(w io.Writer, label string, m index.Problems) {
	for _, p := range m.Mismatches {
		fmt.Fprintf(w, "%s %s\n", label, p)
	}
	if m.Total > len(m.Mismatches) {
		fmt.Fprintf(w, "... and %d more\n", m.Total-len(m.Mismatches))
	}
}

// verifyIndex runs index.Verify and prints its report, reporting whether
// the rows it checked match the log and how many rows are beyond it; a
// progress bar on a terminal stderr shows how far it has read.
func verifyIndex(ctx context.Context, idx indexStore, tree *tiles.Tree, minimum uint64, stdout, stderr io.Writer) (ok bool, beyond uint64, err error) {
	size := tree.Checkpoint().Size
	bar := progress.New(stderr, int64(size), "verifying")
	r, err := index.Verify(ctx, idx, progressLog{index.TreeLog(tree), bar}, minimum, size)
	bar.Finish()
	if err != nil {
		return false, 0, err
	}
	printMismatches(stdout, "MISMATCH", r.Problems)
	fmt.Fprintf(stdout, "checked %d rows against the log of size %d; %d rows beyond it not checked; %d mismatches\n",
		r.Checked, size, r.Beyond, r.Total)
	return r.Total == 0, r.Beyond, nil
}

// fetchPruned fetches the log's Pruned document (tiles.PrunedPath) from
// logAt, a tile directory or URL prefix: the zero Pruned for a log that
// serves none (never pruned).
func fetchPruned(ctx context.Context, logAt, token string) (tiles.Pruned, error) {
	f, err := tiles.NewFetcher(logAt)
	if err != nil {
		return tiles.Pruned{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	return tiles.FetchPruned(ctx, withToken(f, token))
}

// dataDefaults points the index and key index files, the log and the vkey
// that were not given at the ledger's data directory, if there is one.
func dataDefaults(data string, file, keysAt, logAt, vkey *string) error {
	if data == "" {
		return nil
	}
	if *file == "" {
		*file = filepath.Join(data, "index.sqlite")
	}
	if *keysAt == "" {
		*keysAt = filepath.Join(data, keyindex.FileName)
	}
	if *logAt == "" {
		*logAt = filepath.Join(data, "log")
	}
	if *vkey == "" {
		b, err := os.ReadFile(filepath.Join(data, "log.key.pub"))
		if err != nil {
			return fmt.Errorf("%w: couldn't read the log's key (or give --vkey): %v", errUsage, err)
		}
		*vkey = string(trimNewline(b))
	}
	return nil
}

// openTree fetches the log's checkpoint, verifies it with vkey and returns
// the tree it commits to, read through the verifying client.
func openTree(ctx context.Context, logAt, vkey, token string) (*tiles.Tree, error) {
	if logAt == "" || vkey == "" {
		return nil, fmt.Errorf("%w: give --data, or --log and --vkey", errUsage)
	}
	policy, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	f, err := tiles.NewFetcher(logAt)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	f = withToken(f, token)
	note, err := f.Fetch(ctx, tiles.CheckpointPath)
	if errors.Is(err, tiles.ErrNotFound) {
		return nil, fmt.Errorf("the log at %s has no checkpoint yet", logAt)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch the checkpoint: %w", err)
	}
	sc, err := policy.Verify(note)
	if err != nil {
		return nil, fmt.Errorf("the log's checkpoint does not verify: %w", err)
	}
	return tiles.NewTree(f, sc.Checkpoint), nil
}
