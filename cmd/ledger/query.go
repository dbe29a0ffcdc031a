package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ledger-dev/ledger/evidence"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/tiles"
)

const queryUsage = `usage: ledger query --url URL [filters] [flags]

prints the events of the ledger's query API (GET /v1/events) that match the
filters, newest first: a table, or with --json one JSON row a line. A page
holds --limit rows; --all follows the pages to the end, otherwise the next
page's --cursor is printed on standard error. With --proof every row's
inclusion proof is checked against the log's key before it is printed, and
the table shows what the proven leaf holds.
`

// cmdQuery runs `ledger query`.
func cmdQuery(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("query")
	fs.Usage = usageText(fs, queryUsage)
	base := fs.String("url", "http://127.0.0.1:8080", "the ledger's base URL")
	token := tokenFlag(fs, "a reader or auditor")
	filters := filterFlags(fs, "list")
	limit := fs.Int("limit", 100, "rows per page, 1 to 1000")
	cursor := fs.String("cursor", "", "start at this page (the next_cursor a previous query printed)")
	all := fs.Bool("all", false, "follow every page to the end")
	asJSON := fs.Bool("json", false, "print each row as a JSON object on its own line, as the API answers it")
	proof := fs.Bool("proof", false, "fetch and check each row's inclusion proof (needs --vkey or --data)")
	vkey := fs.String("vkey", "", "the log's verifier key, for --proof")
	data := fs.String("data", "", "the ledger's data directory, for --proof: the key is DIR/log.key.pub")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *limit < 1 || *limit > 1000 {
		return fmt.Errorf("%w: --limit must be 1 to 1000", errUsage)
	}
	root, err := baseURL(*base)
	if err != nil {
		return err
	}
	var policy *tiles.Policy
	if *proof {
		if policy, err = proofPolicy(*vkey, *data); err != nil {
			return err
		}
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	filterQuery(q, filters)
	if *proof {
		q.Set("proof", "true")
	}
	out := newRowPrinter(stdout, *asJSON)
	client := newClient(*token, time.Minute)
	for next := *cursor; ; {
		if next != "" {
			q.Set("cursor", next)
		}
		page, err := fetchPage(ctx, client, root+"/v1/events?"+q.Encode())
		if err != nil {
			return err
		}
		for _, row := range page.Events {
			ev, err := checkRow(row, policy)
			if err != nil {
				out.flush()
				return err
			}
			out.print(row, ev)
		}
		if next = page.NextCursor; next == "" {
			return out.flush()
		}
		if !*all {
			if err := out.flush(); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "more rows: add --cursor %s (or --all)\n", next)
			return nil
		}
	}
}

// proofPolicy is the trust for --proof: --vkey, or DIR/log.key.pub.
func proofPolicy(vkey, data string) (*tiles.Policy, error) {
	if vkey == "" && data != "" {
		b, err := os.ReadFile(filepath.Join(data, "log.key.pub"))
		if err != nil {
			return nil, fmt.Errorf("%w: couldn't read the log's key (or give --vkey): %v", errUsage, err)
		}
		vkey = string(trimNewline(b))
	}
	if vkey == "" {
		return nil, fmt.Errorf("%w: --proof needs the log's key: give --vkey VKEY or --data DIR", errUsage)
	}
	p, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: --vkey: %v", errUsage, err)
	}
	return p, nil
}

// queryPage is one answer of GET /v1/events.
type queryPage struct {
	Events     []evidence.Row `json:"events"`
	NextCursor string         `json:"next_cursor"`
}

func fetchPage(ctx context.Context, client *http.Client, u string) (*queryPage, error) {
	resp, err := get(ctx, client, u, "the query")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var page queryPage
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, fmt.Errorf("couldn't read the ledger's answer: %w", err)
	}
	return &page, nil
}

// checkRow checks that the row's leaf has its leaf hash and, with a
// policy, that its proof proves the leaf at its index in a checkpoint the
// policy trusts, and returns the event the leaf holds (nil for a leaf that
// is not an event).
func checkRow(row evidence.Row, policy *tiles.Policy) (*event.Event, error) {
	leaf := tiles.LeafHash(row.Leaf)
	if leaf.String() != row.LeafHash {
		return nil, fmt.Errorf("entry %d: its leaf hashes to %s, not to the leaf hash %s it was sent with", row.Index, leaf, row.LeafHash)
	}
	if policy != nil {
		p, err := tiles.ParseProof([]byte(row.Proof))
		if err != nil {
			return nil, fmt.Errorf("entry %d: its proof: %w", row.Index, err)
		}
		if p.Index != row.Index {
			return nil, fmt.Errorf("entry %d: its proof is for entry %d", row.Index, p.Index)
		}
		if _, err := p.Verify(policy, leaf); err != nil {
			return nil, fmt.Errorf("entry %d: its proof does not verify: %w", row.Index, err)
		}
	}
	ev, err := event.ParseLeaf(row.Leaf)
	if err != nil {
		return nil, nil // a leaf that is not an event: shown by index only
	}
	return ev, nil
}

// rowPrinter prints rows as a table or as JSON lines.
type rowPrinter struct {
	json bool
	w    io.Writer
	tw   *tabwriter.Writer
}

func newRowPrinter(w io.Writer, asJSON bool) *rowPrinter {
	p := &rowPrinter{json: asJSON, w: w}
	if !asJSON {
		p.tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(p.tw, "INDEX\tTIMESTAMP\tTENANT\tACTOR\tACTION\tRESOURCE\tRESULT")
	}
	return p
}

func (p *rowPrinter) print(row evidence.Row, ev *event.Event) {
	if p.json {
		b, _ := json.Marshal(row)
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	if ev == nil {
		fmt.Fprintf(p.tw, "%d\t-\t-\t-\t-\t-\t(not an event)\n", row.Index)
		return
	}
	resource := ev.Resource.Type
	if ev.Resource.ID != "" {
		resource += "/" + ev.Resource.ID
	}
	fmt.Fprintf(p.tw, "%d\t%s\t%s\t%s:%s\t%s\t%s\t%s\n", row.Index, ev.Timestamp.Format(time.RFC3339), dash(ev.TenantID),
		ev.Actor.Type, ev.Actor.ID, ev.Action, resource, ev.Result)
}

func (p *rowPrinter) flush() error {
	if p.tw != nil {
		return p.tw.Flush()
	}
	return nil
}
