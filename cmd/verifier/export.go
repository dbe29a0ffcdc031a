package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ledger-dev/ledger/evidence"
)

// cmdExport checks an evidence package with no network: its checkpoint
// under the trust policy, then every event and proof (see package evidence).
func cmdExport(_ context.Context, args []string, r *report) error {
	o := newOptions("export", false)
	pos, _, p, err := o.setup(args, r)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want exactly one package DIR", errUsage)
	}
	dir := pos[0]
	pkg, err := evidence.Open(os.DirFS(dir))
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err) // a failed check, not a usage error
	}
	sc, ok := verifyCheckpoint(r, p, pkg.Checkpoint, "checkpoint")
	if !ok {
		return nil
	}
	return pkg.Check(sc, r.result)
}

// result adds the outcome of a check of package evidence to the report.
func (r *report) result(c evidence.Result) {
	if c.Err != nil {
		r.fail(c.Check, c.Err)
		return
	}
	r.ok(c.Check, c.Detail, c.Data)
}
