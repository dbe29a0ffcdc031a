// Command ledger runs the audit ledger: keygen creates a log key, serve runs
// the server, append sends events, bench measures throughput and latency.
// See docs/ledger.md.
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
	"syscall"
)

const usage = `usage: ledger <command> [flags]

commands:
  keygen  --origin ORIGIN --key FILE       create a log key (FILE, FILE.pub)
  serve   --data DIR [--listen ADDR] [--key FILE] [--origin ORIGIN] [--config FILE]
                                           run the ledger
  token   create|list|revoke --data DIR    manage API tokens (writer, reader, auditor, admin)
  append  --url URL [--wait LEVEL] [FILE|-] send NDJSON events, print one result per event
  bench   --url URL [flags]                load generator: events/s and latency
  bench   fill --data DIR --entries N      fill a log to N entries at full speed, without HTTP
  index   rebuild|verify --data DIR        recreate the query index, or check it against the log
  export  --url URL --out DIR [filters]    write an evidence package that 'verifier export' checks
  mirror  --from URL|DIR|s3://… --to DIR|s3://… --vkey VKEY
                                           copy a log incrementally, verifying every tile

Run 'ledger <command> --help' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks invocation errors.
var errUsage = errors.New("usage error")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmds := map[string]func(context.Context, []string, io.Reader, io.Writer, io.Writer) error{
		"keygen": cmdKeygen,
		"serve":  cmdServe,
		"append": cmdAppend,
		"bench":  cmdBench,
		"index":  cmdIndex,
		"export": cmdExport,
		"token":  cmdToken,
		"mirror": cmdMirror,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ledger: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(ctx, args[1:], stdin, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		// The message without the "usage error: " that errUsage wraps it in.
		fmt.Fprintf(stderr, "ledger %s: %s\n", args[0], strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		return 2
	default:
		fmt.Fprintf(stderr, "ledger %s: %v\n", args[0], err)
		return 1
	}
}

// newFlags returns a flag set that prints its usage to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ledger "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and wraps errors as usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
