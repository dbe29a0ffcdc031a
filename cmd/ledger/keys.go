package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/ledger-dev/ledger/internal/lockfile"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/keyindex"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/postgres"
	"github.com/ledger-dev/ledger/tiles"
)

// keyStore is the idempotency-key index `ledger index` checks: the
// PostgreSQL log's own (log_keys) or a keys.sqlite.
type keyStore interface {
	ledger.KeyStore
	io.Closer
}

// openKeyStore opens the key index of the log in the PostgreSQL database
// at pgURL, or else the SQLite file at path. A missing file is no key
// index (nil).
func openKeyStore(ctx context.Context, path, pgURL string, log *slog.Logger) (keyStore, error) {
	if pgURL != "" {
		return postgres.Open(ctx, postgres.Config{DSN: pgURL, KeyOf: event.KeyOf, Logger: log})
	}
	if path == "" {
		return nil, nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return keyindex.Open(ctx, keyindex.Config{Path: path})
}

// verifyKeys runs keyindex.Verify and prints its report, reporting whether
// the key index matches the log.
func verifyKeys(ctx context.Context, ks keyStore, tree *tiles.Tree, minimum uint64, stdout io.Writer) (bool, error) {
	size := tree.Checkpoint().Size
	r, err := keyindex.Verify(ctx, ks, index.TreeLog(tree), minimum, size, event.KeyOf)
	if err != nil {
		return false, err
	}
	printMismatches(stdout, "KEY MISMATCH", r.Problems)
	fmt.Fprintf(stdout, "checked the keys of %d entries (%d keyed) against the log of size %d; key index watermark %d; %d mismatches\n",
		r.Checked, r.Keys, size, r.Watermark, r.Total)
	return r.Total == 0, nil
}

// rebuildKeys rebuilds the posix log's key index at path from the tree,
// if the ledger is not running (it holds the log directory's lock, and a
// running ledger writes the key index itself).
func rebuildKeys(ctx context.Context, path, logDir string, tree *tiles.Tree, stdout io.Writer, log *slog.Logger) error {
	lock, err := posix.Open(ctx, posix.Config{Dir: logDir})
	if errors.Is(err, lockfile.ErrLocked) {
		fmt.Fprintf(stdout, "key index %s not rebuilt: the ledger is running; stop it and run again\n", path)
		return nil
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	ks, err := keyindex.Open(ctx, keyindex.Config{Path: path})
	if err != nil {
		return err
	}
	defer ks.Close()
	size := tree.Checkpoint().Size
	if err := keyindex.Rebuild(ctx, ks, index.TreeLog(tree), size, event.KeyOf, log); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt the key index %s up to the checkpoint of size %d\n", path, size)
	return nil
}
