package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ledger-dev/ledger/evidence"
	"github.com/ledger-dev/ledger/internal/progress"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/tiles"
)

// eventFilters are the filter flags of `ledger export` and `ledger query`,
// each the query parameter of the same name with '_' for '-'.
var eventFilters = []string{"actor-id", "actor-type", "action", "event-type", "resource-type", "resource-id", "result", "tenant-id",
	"submitter-token-id", "since", "until", "time"}

// filterFlags defines the eventFilters flags on fs; filterQuery reads them.
func filterFlags(fs *flag.FlagSet, verb string) map[string]*string {
	filters := map[string]*string{}
	for _, name := range eventFilters {
		filters[name] = fs.String(name, "", verb+" only events whose "+strings.ReplaceAll(name, "-", "_")+" is this")
	}
	fs.Lookup("since").Usage = "start of the time window, RFC 3339 (default: 30 days before --until)"
	fs.Lookup("until").Usage = "end of the time window, RFC 3339, excluded (default: now)"
	fs.Lookup("time").Usage = "the time --since and --until bound: timestamp (the event's own, default) or received (when the ledger received it)"
	fs.Lookup("submitter-token-id").Usage = verb + " only events submitted with the token of this id"
	return filters
}

// filterQuery sets in q the query parameters of the filters given.
func filterQuery(q url.Values, filters map[string]*string) {
	for name, v := range filters {
		if *v != "" {
			q.Set(strings.ReplaceAll(name, "-", "_"), *v)
		}
	}
}

// setWindow makes the time window of a filtered export explicit, with the
// server's defaults (until now, since DefaultWindow before until), so that
// the manifest records the window the package covers.
func setWindow(q url.Values, now time.Time) error {
	until := now.UTC()
	if v := q.Get("until"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("%w: --until %q is not an RFC 3339 time", errUsage, v)
		}
		until = t.UTC()
	}
	since := until.Add(-httpapi.DefaultWindow)
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("%w: --since %q is not an RFC 3339 time", errUsage, v)
		}
		since = t.UTC()
	}
	q.Set("since", since.Format(time.RFC3339Nano))
	q.Set("until", until.Format(time.RFC3339Nano))
	return nil
}

func cmdExport(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("export")
	base := fs.String("url", "http://127.0.0.1:8080", "the ledger's base URL")
	out := fs.String("out", "", "directory to write the evidence package to (must not exist, or be empty)")
	vkey := fs.String("vkey", "", "the log's verifier key: check the checkpoint before exporting (optional)")
	from := fs.Uint64("from", 0, "first index of a range export")
	to := fs.Uint64("to", 0, "end of a range export: entries from --from to --to minus 1")
	token := tokenFlag(fs, "an auditor")
	archived := fs.String("archive", "", "build the package from this archive (a directory or s3://BUCKET[/PREFIX][?...]) instead of a ledger: its verified checkpoint, tiles and bundles; needs --vkey")
	eventKeys := fs.Bool("event-keys", false, "show sealed members in clear, each event with the key that opens just its own (never the subject's key), so that `verifier export` checks them against the leaf; the package then holds personal data")
	filters := filterFlags(fs, "export")
	fs.Lookup("since").Usage = "start of the time window, RFC 3339 (default: 30 days before --until; the manifest records the window)"
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	isRange := flagGiven(fs, "from") || flagGiven(fs, "to")
	q := url.Values{"format": {"ndjson"}}
	filterQuery(q, filters)
	isFiltered := len(q) > 1
	switch {
	case *out == "" || fs.NArg() > 0:
		return fmt.Errorf("%w: give --out DIR and no arguments", errUsage)
	case isRange && isFiltered:
		return fmt.Errorf("%w: a range export holds every entry of the range; it takes no filters", errUsage)
	case isRange && *to <= *from:
		return fmt.Errorf("%w: --to must be greater than --from", errUsage)
	}
	if *archived != "" {
		switch {
		case *vkey == "":
			return fmt.Errorf("%w: --archive needs --vkey: the archive's checkpoint is verified with the log's key", errUsage)
		case flagGiven(fs, "url") || flagGiven(fs, "token"):
			return fmt.Errorf("%w: --archive reads the archive, not a ledger: drop --url and --token", errUsage)
		case *eventKeys:
			return fmt.Errorf("%w: --event-keys needs the ledger, which holds the subject keys: it does not go with --archive", errUsage)
		}
	}
	if !isRange && (*archived == "" || isFiltered) {
		if err := setWindow(q, time.Now()); err != nil {
			return err
		}
	}
	if *eventKeys {
		q.Set("event_keys", "true")
	}
	var root string
	if *archived == "" {
		var err error
		if root, err = baseURL(*base); err != nil {
			return err
		}
	}
	pkg, err := evidence.Create(*out)
	if errors.Is(err, evidence.ErrNotEmpty) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	defer pkg.Close()
	total := int64(-1) // a filtered export's count is known at its end
	if isRange {
		total = int64(*to - *from)
	}
	e := &exporter{base: root, vkey: *vkey, client: newClient(*token, 0), token: *token, eventKeys: *eventKeys, pkg: pkg, bar: progress.New(stderr, total, "exporting")}
	switch {
	case *archived != "":
		err = e.exportArchive(ctx, *archived, isRange, *from, *to, q)
	case isRange:
		err = e.exportRange(ctx, *from, *to)
	default:
		err = e.exportFiltered(ctx, q)
	}
	e.bar.Finish()
	if err != nil {
		return err
	}
	if err := pkg.Finish(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %d events with their proofs against the checkpoint of size %d to %s\n", pkg.Manifest.Count, pkg.Manifest.TreeSize, *out)
	return nil
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// exporter fetches what a package holds from a ledger.
type exporter struct {
	base      string
	vkey      string
	token     string
	eventKeys bool // rows show sealed members opened, with their event keys
	client    *http.Client
	pkg       *evidence.Writer
	tree      *tiles.Tree
	bar       *progressbar.ProgressBar // advanced by every event added
}

// exportFiltered exports the rows of GET /v1/export?q, each proven against
// a checkpoint at least as large as the tree size the export covers.
func (e *exporter) exportFiltered(ctx context.Context, q url.Values) error {
	resp, err := get(ctx, e.client, e.base+"/v1/export?"+q.Encode(), "the export")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	size, err := strconv.ParseUint(resp.Header.Get(httpapi.TreeSizeHeader), 10, 64)
	if err != nil {
		return fmt.Errorf("the export has no valid %s header", httpapi.TreeSizeHeader)
	}
	if err := e.openTree(ctx, size); err != nil {
		return err
	}
	e.pkg.Manifest.Filters = map[string]string{}
	for k := range q {
		if k != "format" && k != "event_keys" {
			e.pkg.Manifest.Filters[k] = q.Get(k)
		}
	}
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	for {
		var row evidence.Row
		if err := dec.Decode(&row); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("couldn't read the export after %d events: %w", e.pkg.Manifest.Count, err)
		}
		if row.Index >= size {
			return fmt.Errorf("the export has entry %d, beyond its tree size %d", row.Index, size)
		}
		if got := tiles.LeafHash(row.Leaf).String(); got != row.LeafHash {
			return fmt.Errorf("entry %d: the exported leaf hashes to %s, not to its leaf hash %s", row.Index, got, row.LeafHash)
		}
		// The server shows a reader sealed members in clear, which no proof
		// covers: the package shows the event as its leaf holds it, or, with
		// the event key that opens it, as the server showed it.
		if row.EventKey == nil {
			if row, err = leafRow(row.Index, row.Leaf); err != nil {
				return err
			}
		}
		if err := e.add(ctx, row); err != nil {
			return err
		}
	}
}

// exportRange exports every entry from first to end-1, read from the log's
// authenticated entry bundles.
func (e *exporter) exportRange(ctx context.Context, first, end uint64) error {
	if err := e.openTree(ctx, end); err != nil {
		return err
	}
	e.pkg.Manifest.Range = &evidence.Range{From: first, To: end}
	return e.addRange(ctx, first, end, nil)
}

// addRange adds the entries from first to end-1 of e.tree, read from its
// authenticated entry bundles; keep, if set, selects which.
func (e *exporter) addRange(ctx context.Context, first, end uint64, keep func(index uint64, leaf []byte) bool) error {
	var entries [][]byte
	for i := first; i < end; i++ {
		if i == first || i%tiles.TileWidth == 0 {
			var err error
			if entries, err = e.tree.Bundle(ctx, i/tiles.TileWidth); err != nil {
				return fmt.Errorf("couldn't read entry %d: %w", i, err)
			}
		}
		leaf := entries[i%tiles.TileWidth]
		if keep != nil && !keep(i, leaf) {
			continue
		}
		row, err := leafRow(i, leaf)
		if err != nil {
			return err
		}
		if e.eventKeys && bytes.Contains(row.Event, []byte(`"sealed":{`)) {
			if row, err = e.openedRow(ctx, row); err != nil {
				return err
			}
		}
		if err := e.add(ctx, row); err != nil {
			return err
		}
	}
	return nil
}

// openedRow is row, a sealed event, as the ledger shows it to this reader
// (GET /v1/events/{index}?event_key=true): its sealed members opened, with
// their event key, when the ledger opens them; as it is otherwise (erased,
// say).
func (e *exporter) openedRow(ctx context.Context, row evidence.Row) (evidence.Row, error) {
	resp, err := get(ctx, e.client, fmt.Sprintf("%s/v1/events/%d?event_key=true", e.base, row.Index), fmt.Sprintf("the read of entry %d", row.Index))
	if err != nil {
		return row, err
	}
	defer resp.Body.Close()
	var answer struct {
		Leaf     []byte          `json:"leaf"`
		Event    json.RawMessage `json:"event"`
		EventKey []byte          `json:"event_key"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return row, fmt.Errorf("couldn't read entry %d: %w", row.Index, err)
	}
	if !bytes.Equal(answer.Leaf, row.Leaf) {
		return row, fmt.Errorf("entry %d: the ledger answers another leaf than its log's", row.Index)
	}
	if answer.EventKey != nil {
		row.Event, row.EventKey = answer.Event, answer.EventKey
	}
	return row, nil
}

// openTree fetches the published checkpoint, which must cover size
// entries, and opens its tree.
func (e *exporter) openTree(ctx context.Context, size uint64) error {
	hf, err := tiles.NewHTTPFetcher(e.base + "/")
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	f := withToken(hf, e.token)
	note, err := f.Fetch(ctx, tiles.CheckpointPath)
	if err != nil {
		return fmt.Errorf("couldn't fetch the checkpoint: %w", err)
	}
	cp, err := e.checkpoint(note)
	if err != nil {
		return err
	}
	if cp.Size < size {
		return fmt.Errorf("the published checkpoint has size %d; the export needs %d", cp.Size, size)
	}
	e.tree = tiles.NewTree(f, cp)
	e.pkg.SetCheckpoint(note, cp)
	return nil
}

// checkpoint parses the checkpoint note, verifying it when a vkey was given.
// Unverified, it is still checked by `verifier export`, and every proof is
// checked against its root here.
func (e *exporter) checkpoint(note []byte) (tiles.Checkpoint, error) {
	if e.vkey != "" {
		p, err := tiles.NewLogPolicy(e.vkey)
		if err != nil {
			return tiles.Checkpoint{}, fmt.Errorf("%w: %v", errUsage, err)
		}
		sc, err := p.Verify(note)
		if err != nil {
			return tiles.Checkpoint{}, fmt.Errorf("the ledger's checkpoint does not verify: %w", err)
		}
		return sc.Checkpoint, nil
	}
	i := strings.LastIndex(string(note), "\n\n")
	if i < 0 {
		return tiles.Checkpoint{}, errors.New("the ledger's checkpoint is not a signed note")
	}
	return tiles.ParseCheckpoint(note[:i+1])
}

// add proves a row against the checkpoint and writes it to the package.
func (e *exporter) add(ctx context.Context, row evidence.Row) error {
	hashes, err := e.tree.InclusionProof(ctx, row.Index, tiles.LeafHash(row.Leaf))
	if err != nil {
		return fmt.Errorf("entry %d: the ledger's index gave a leaf that is not the log's (run `ledger index verify`): %w", row.Index, err)
	}
	e.bar.Add(1)
	return e.pkg.Add(row, hashes)
}

// leafRow is the package row of the entry at index: its event is the one
// its leaf encodes (sealed members sealed), or null for a leaf that is not
// an event.
func leafRow(index uint64, leaf []byte) (evidence.Row, error) {
	row := evidence.Row{Index: index, LeafHash: tiles.LeafHash(leaf).String(), Leaf: leaf, Event: json.RawMessage("null")}
	ev, err := event.ParseLeaf(leaf)
	if err != nil {
		return row, nil
	}
	if row.Event, err = json.Marshal(ev); err != nil {
		return row, fmt.Errorf("couldn't encode the event of entry %d: %w", index, err)
	}
	return row, nil
}
