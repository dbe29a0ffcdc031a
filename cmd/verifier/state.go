package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ledger-dev/ledger/internal/durable"
	"github.com/ledger-dev/ledger/tiles"
)

// statePath is where the last verified checkpoint of origin is kept.
func statePath(dir, origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return filepath.Join(dir, hex.EncodeToString(sum[:])+".checkpoint")
}

// checkAgainstState proves sc consistent with the checkpoint last verified in
// dir, then remembers sc if it is newer. A rollback or a fork is reported with
// both checkpoints and leaves the state untouched: it is the evidence.
func checkAgainstState(ctx context.Context, r *report, f tiles.Fetcher, p *tiles.Policy, sc *tiles.SignedCheckpoint, dir string) error {
	path := statePath(dir, sc.Origin)
	prev, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.ok("state", fmt.Sprintf("no earlier checkpoint of %s in %s; remembering size %d", sc.Origin, dir, sc.Size), nil)
		return saveState(dir, path, sc.Note)
	case err != nil:
		return err
	}
	old, err := p.Verify(prev)
	if old == nil {
		return fmt.Errorf("the remembered checkpoint %s no longer verifies: %w", path, err)
	}
	if old.Size > sc.Size {
		return fmt.Errorf("rollback: the log serves size %d, but size %d was verified before\nremembered checkpoint:\n%s\nserved checkpoint:\n%s",
			sc.Size, old.Size, indent(old.Note), indent(sc.Note))
	}
	if err := proveConsistency(ctx, r, f, old, sc); err != nil {
		return fmt.Errorf("fork: %w", err)
	}
	if sc.Size > old.Size {
		return saveState(dir, path, sc.Note)
	}
	return nil
}

// saveState replaces the remembered checkpoint atomically and durably.
func saveState(dir, path string, note []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return durable.WriteFile(path, note, 0o600)
}
