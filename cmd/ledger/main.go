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

	"github.com/ledger-dev/ledger/internal/version"
)

const usage = `usage: ledger <command> [flags]

commands:
  keygen  --origin ORIGIN --key FILE       create a log key (FILE, FILE.pub)
  serve   --data DIR [--listen ADDR] [--key FILE] [--origin ORIGIN] [--config FILE]
                                           run the ledger
  token   create|list|revoke --data DIR    manage API tokens (writer, reader, auditor, admin, privacy)
  append  --url URL [--wait LEVEL] [FILE|-] send NDJSON events, print one result per event
  bench   --url URL [flags]                load generator: events/s and latency
  bench   fill --data DIR --entries N      fill a log to N entries at full speed, without HTTP
  index   rebuild|verify --data DIR        recreate the query index, or check it against the log
  export  --url URL --out DIR [filters]    write an evidence package that 'verifier export' checks
  query   --url URL [filters] [--proof]    list matching events: a table or --json, proofs checked
  mirror  --from URL|DIR|s3://… --to DIR|s3://… --vkey VKEY
                                           copy a log incrementally, verifying every tile
  retention show --config FILE|--url URL   print the effective retention policy
  prune   --url URL [--dry-run]           prune the log's left edge under the retention policy,
                                           or show what would go and why the rest stays
  archive --url URL                        archive the log now (to the archive of serve's --config)

Run 'ledger <command> --help' for a command's flags, 'ledger --version' for
the build.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks invocation errors.
var errUsage = errors.New("usage error")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version.String("ledger"))
		return 0
	}
	cmds := map[string]func(context.Context, []string, io.Reader, io.Writer, io.Writer) error{
		"keygen":    cmdKeygen,
		"serve":     cmdServe,
		"append":    cmdAppend,
		"bench":     cmdBench,
		"index":     cmdIndex,
		"export":    cmdExport,
		"query":     cmdQuery,
		"token":     cmdToken,
		"mirror":    cmdMirror,
		"retention": cmdRetention,
		"prune":     cmdPrune,
		"archive":   cmdArchive,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ledger: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(ctx, args[1:], stdin, stdout, stderr)
	var help *helpRequest
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		help.print(stdout)
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

// newFlags returns the flag set of `ledger name`. It prints nothing while
// parsing: run prints a parse error once, and --help to standard output.
// Its usage lists the flags under "usage: ledger name [flags]"; a command
// with more to say sets fs.Usage with usageText.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("ledger "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = usageText(fs, "usage: "+fs.Name()+" [flags]\n")
	return fs
}

// usageText returns a usage function that prints text and then fs's flags
// to fs's output.
func usageText(fs *flag.FlagSet, text string) func() {
	return func() {
		fmt.Fprint(fs.Output(), text)
		fmt.Fprintln(fs.Output(), "\nflags:")
		fs.PrintDefaults()
	}
}

// parseFlags parses args: --help becomes a helpRequest, which run prints to
// standard output, and other errors are usage errors that point at --help.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &helpRequest{fs}
		}
		return fmt.Errorf("%w: %v (see '%s --help')", errUsage, err, fs.Name())
	}
	return nil
}

// helpRequest is what a command returns for --help: run prints the flag
// set's usage to standard output and exits 0.
type helpRequest struct{ fs *flag.FlagSet }

func (h *helpRequest) Error() string { return "help requested" }
func (h *helpRequest) Unwrap() error { return flag.ErrHelp }

func (h *helpRequest) print(w io.Writer) {
	h.fs.SetOutput(w)
	h.fs.Usage()
}

// helpText is a helpRequest that prints text, for a command whose
// subcommand is --help.
func helpText(text string) *helpRequest {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), text) }
	return &helpRequest{fs}
}
