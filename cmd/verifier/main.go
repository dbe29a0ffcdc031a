// Command verifier checks a C2SP transparency log offline, trusting nothing
// the log's server says: checkpoint signatures against a trust policy,
// inclusion of an entry, consistency between checkpoints, a whole-log audit,
// and tlog-proof files with no network at all.
//
// It links only the tiles and evidence packages and their dependencies, so it
// can vouch for a log independently of the server that wrote it. See
// docs/verifier.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/ledger-dev/ledger/internal/version"
)

const usage = `usage: verifier <command> [flags]

commands:
  checkpoint   --log URL|DIR TRUST [--state DIR]
               verify the log's checkpoint; with --state, prove it consistent
               with the last checkpoint verified there and remember it
  inclusion    --log URL|DIR TRUST --index N [--leaf FILE] [--proof-out FILE]
               prove that entry N is in the log (and equals FILE)
  consistency  --log URL|DIR TRUST --old FILE [--new FILE]
               prove the log's checkpoint (or FILE) extends the old one
  audit        --log URL|DIR TRUST [--workers N] [--archive URL|DIR]
               recompute every tile and the root from every entry; of a
               pruned log, from the entries that remain (and with --archive
               from its archive too), reporting the pruned range
  proof        FILE TRUST [--leaf FILE] [--ledger URL]
               check a c2sp.org/tlog-proof@v1 file with no network (with
               --ledger, ask the ledger whether a sealed entry is erased)
  export       DIR TRUST
               check an evidence package written by 'ledger export' with no
               network: every event against its leaf and proof, and for a
               range export that no entry of the range is missing

TRUST is --vkey VKEY (a log key, no witnesses required) or --policy FILE
(a C2SP tlog-policy with logs, witnesses and the quorum).
Every command takes --json to print a JSON report instead of lines, and
--help to list its flags. 'verifier --version' prints the build.

exit status: 0 all checks passed, 1 a check failed, 2 usage error
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors in how the command was invoked (exit status 2).
var errUsage = errors.New("usage error")

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version.String("verifier"))
		return 0
	}
	cmds := map[string]func(context.Context, []string, *report) error{
		"checkpoint":  cmdCheckpoint,
		"inclusion":   cmdInclusion,
		"consistency": cmdConsistency,
		"audit":       cmdAudit,
		"proof":       cmdProof,
		"export":      cmdExport,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "verifier: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	r := &report{out: stdout, progress: stderr}
	err := cmd(ctx, args[1:], r)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errUsage) {
		// The message without the "usage error: " that errUsage wraps it in.
		fmt.Fprintf(stderr, "verifier %s: %s\n", args[0], strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		return 2
	}
	if err != nil {
		r.fail(args[0], err)
	}
	return r.finish()
}
