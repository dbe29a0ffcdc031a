package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ledger-dev/ledger/ledger/access"
)

const tokenUsage = `usage: ledger token create|list|revoke --data DIR [flags]

  create --role writer|reader|auditor|admin|privacy [--tenant T] [--name N] [--expires DURATION]
            make a token; its secret is printed once, on standard output
  list      list the tokens (never their secrets)
  revoke ID revoke a token

Tokens are kept in DIR/tokens.json (or --tokens FILE) as SHA-256 hashes. A
running ledger rereads the file within a second.
`

// cmdToken runs `ledger token create|list|revoke`.
func cmdToken(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return fmt.Errorf("%w: want create, list or revoke", errUsage)
	}
	sub := args[0]
	switch sub {
	case "-h", "-help", "--help", "help":
		return helpText(tokenUsage)
	case "create", "list", "revoke":
	default:
		return fmt.Errorf("%w: unknown subcommand %q: want create, list or revoke (see 'ledger token --help')", errUsage, sub)
	}
	fs := newFlags("token " + sub)
	data := fs.String("data", "", "the ledger's data directory (the token file is DIR/tokens.json)")
	file := fs.String("tokens", "", "the token file (default DIR/tokens.json)")
	var c tokenSpec
	switch sub {
	case "create":
		fs.Usage = usageText(fs, "usage: ledger token create --data DIR --role ROLE [flags]\n\nmakes a token; its secret is printed once, on standard output\n")
		fs.StringVar(&c.role, "role", "", "writer, reader, auditor, admin or privacy")
		fs.StringVar(&c.tenant, "tenant", "", "the tenant a writer writes into, or a reader reads (readers need one)")
		fs.StringVar(&c.name, "name", "", "a note on who holds the token")
		fs.Var(&c.expires, "expires", "lifetime, e.g. 30d or 12h (default: never expires)")
		fs.BoolVar(&c.noStore, "no-store", false, "print the token's entry for the tokens list of a --config file instead of writing the token file")
	case "list":
		fs.Usage = usageText(fs, "usage: ledger token list --data DIR [flags]\n\nlists the tokens (never their secrets)\n")
	case "revoke":
		fs.Usage = usageText(fs, "usage: ledger token revoke --data DIR [flags] ID\n\nrevokes the token ID\n")
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	path := *file
	if path == "" && *data != "" {
		path = filepath.Join(*data, access.FileName)
	}
	if path == "" && !c.noStore {
		return fmt.Errorf("%w: give --data DIR or --tokens FILE", errUsage)
	}
	switch {
	case sub == "create" && fs.NArg() == 0:
		return createToken(path, c, stdout, stderr)
	case sub == "list" && fs.NArg() == 0:
		return listTokens(path, stdout)
	case sub == "revoke" && fs.NArg() == 1:
		tok, err := access.RevokeInFile(path, fs.Arg(0), time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s (%s) at %s\n", tok.ID, tok.Role, tok.Revoked.Format(time.RFC3339))
		return nil
	case sub == "revoke":
		return fmt.Errorf("%w: give the ID of one token to revoke (see 'ledger token list')", errUsage)
	}
	return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
}

// tokenSpec is the token `ledger token create` makes.
type tokenSpec struct {
	role, tenant, name string
	expires            lifetime
	noStore            bool
}

func createToken(path string, c tokenSpec, stdout, stderr io.Writer) error {
	role, err := access.ParseRole(c.role)
	if err != nil {
		return fmt.Errorf("%w: --role: %v", errUsage, err)
	}
	secret, tok, err := access.Generate(role, c.tenant, c.name, time.Duration(c.expires), time.Now())
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if c.noStore {
		b, err := yaml.Marshal([]access.Token{tok})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "add this entry to the tokens list of the configuration file:\n%s", b)
	} else {
		// Tokens may be made before the first start: the ledger then
		// starts with access control on. A new directory is 0700, as
		// serve --init makes the data directory.
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		_, err := os.Stat(path)
		first := errors.Is(err, fs.ErrNotExist)
		if err := access.UpdateFile(path, func(ts []access.Token) ([]access.Token, error) { return append(ts, tok), nil }); err != nil {
			return err
		}
		if first {
			fmt.Fprintf(stderr, "%s is new: a ledger serving without tokens turns access control on within a second of it, and from then on every request needs a token\n", path)
		}
	}
	fmt.Fprintln(stdout, secret)
	fmt.Fprintf(stderr, "token %s: role %s", tok.ID, tok.Role)
	if tok.Tenant != "" {
		fmt.Fprintf(stderr, ", tenant %s", tok.Tenant)
	}
	if !tok.Expires.IsZero() {
		fmt.Fprintf(stderr, ", expires %s", tok.Expires.Format(time.RFC3339))
	}
	fmt.Fprintln(stderr, ". The secret above is shown this once; only its SHA-256 is stored.")
	return nil
}

func listTokens(path string, stdout io.Writer) error {
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		return fmt.Errorf("no ledger data directory at %s: %w", filepath.Dir(path), err)
	}
	tokens, exists, err := access.LoadFile(path)
	if err != nil {
		return err
	}
	if !exists {
		fmt.Fprintf(stdout, "no tokens: %s does not exist, so access control is off\n", path)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tTENANT\tNAME\tCREATED\tEXPIRES\tSTATUS")
	now := time.Now()
	for _, t := range tokens {
		status := "active"
		if err := t.Usable(now); err != nil {
			status = "revoked"
			if t.Revoked.IsZero() {
				status = "expired"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, dash(t.Tenant), dash(t.Name), stamp(t.Created), stamp(t.Expires), status)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// lifetime is a token's lifetime as --expires takes it: a Go duration
// (12h, 90m) or a whole number of days (30d).
type lifetime time.Duration

func (l *lifetime) String() string { return time.Duration(*l).String() }

func (l *lifetime) Set(v string) error {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%q is not a number of days such as 30d", v)
		}
		*l = lifetime(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a lifetime such as 30d, 12h or 90m", v)
	}
	*l = lifetime(d)
	return nil
}
