package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/tiles"
)

// exportFormat names the layout of an evidence package in its manifest.
const exportFormat = "ledger-export/v1"

// exportManifest is manifest.json of an evidence package.
type exportManifest struct {
	Format   string    `json:"format"`
	Origin   string    `json:"origin"`
	TreeSize uint64    `json:"tree_size"`
	RootHash string    `json:"root_hash"`
	Created  time.Time `json:"created"`
	Count    int       `json:"count"`
	// Filters are the query parameters of a filtered export.
	Filters map[string]string `json:"filters,omitempty"`
	// Range, for a range export, says that every entry from From to To-1
	// is in the package.
	Range *exportRange `json:"range,omitempty"`
}

type exportRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// exportRow is one line of events.ndjson: the rows of GET /v1/export.
type exportRow struct {
	Index    uint64          `json:"index"`
	LeafHash string          `json:"leaf_hash"`
	Leaf     []byte          `json:"leaf"`
	Event    json.RawMessage `json:"event"`
}

// exportFilters are the filter flags of `ledger export`, each the query
// parameter of the same name with '_' for '-'.
var exportFilters = []string{"actor-id", "actor-type", "action", "event-type", "resource-type", "resource-id", "result", "tenant-id", "since", "until"}

func cmdExport(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("export", stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "the ledger's base URL")
	out := fs.String("out", "", "directory to write the evidence package to (must not exist, or be empty)")
	vkey := fs.String("vkey", "", "the log's verifier key: check the checkpoint before exporting (optional)")
	from := fs.Uint64("from", 0, "first index of a range export")
	to := fs.Uint64("to", 0, "end of a range export: entries from --from to --to minus 1")
	token := tokenFlag(fs, "auditor")
	filters := map[string]*string{}
	for _, name := range exportFilters {
		filters[name] = fs.String(name, "", "export only events whose "+strings.ReplaceAll(name, "-", "_")+" is this")
	}
	fs.Lookup("since").Usage = "start of the time window, RFC 3339 (default: 30 days before --until)"
	fs.Lookup("until").Usage = "end of the time window, RFC 3339, excluded (default: now)"
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	isRange := flagGiven(fs, "from") || flagGiven(fs, "to")
	q := url.Values{"format": {"ndjson"}}
	for name, v := range filters {
		if *v != "" {
			q.Set(strings.ReplaceAll(name, "-", "_"), *v)
		}
	}
	switch {
	case *out == "" || fs.NArg() > 0:
		return fmt.Errorf("%w: give --out DIR and no arguments", errUsage)
	case isRange && len(q) > 1:
		return fmt.Errorf("%w: a range export holds every entry of the range; it takes no filters", errUsage)
	case isRange && *to <= *from:
		return fmt.Errorf("%w: --to must be greater than --from", errUsage)
	}
	pkg, err := newPackage(*out)
	if err != nil {
		return err
	}
	defer pkg.events.Close()
	e := &exporter{base: strings.TrimSuffix(*base, "/"), vkey: *vkey, client: newClient(*token, 0), token: *token, pkg: pkg}
	if isRange {
		err = e.exportRange(ctx, *from, *to)
	} else {
		err = e.exportFiltered(ctx, q)
	}
	if err != nil {
		return err
	}
	if err := pkg.finish(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %d events with their proofs against the checkpoint of size %d to %s\n", pkg.m.Count, pkg.m.TreeSize, *out)
	return nil
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// exporter fetches what a package holds from a ledger.
type exporter struct {
	base   string
	vkey   string
	token  string
	client *http.Client
	pkg    *evidencePackage
	tree   *tiles.Tree
}

// exportFiltered exports the rows of GET /v1/export?q, each proven against
// a checkpoint at least as large as the tree size the export covers.
func (e *exporter) exportFiltered(ctx context.Context, q url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/v1/export?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("the ledger refused the export: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	size, err := strconv.ParseUint(resp.Header.Get(httpapi.TreeSizeHeader), 10, 64)
	if err != nil {
		return fmt.Errorf("the export has no valid %s header", httpapi.TreeSizeHeader)
	}
	if err := e.openTree(ctx, size); err != nil {
		return err
	}
	e.pkg.m.Filters = map[string]string{}
	for k := range q {
		if k != "format" {
			e.pkg.m.Filters[k] = q.Get(k)
		}
	}
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	for {
		var row exportRow
		if err := dec.Decode(&row); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("couldn't read the export after %d events: %w", e.pkg.m.Count, err)
		}
		if row.Index >= size {
			return fmt.Errorf("the export has entry %d, beyond its tree size %d", row.Index, size)
		}
		if got := tiles.LeafHash(row.Leaf).String(); got != row.LeafHash {
			return fmt.Errorf("entry %d: the exported leaf hashes to %s, not to its leaf hash %s", row.Index, got, row.LeafHash)
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
	e.pkg.m.Range = &exportRange{From: first, To: end}
	var entries [][]byte
	for i := first; i < end; i++ {
		if i == first || i%tiles.TileWidth == 0 {
			var err error
			if entries, err = e.tree.Bundle(ctx, i/tiles.TileWidth); err != nil {
				return fmt.Errorf("couldn't read entry %d: %w", i, err)
			}
		}
		leaf := entries[i%tiles.TileWidth]
		row := exportRow{Index: i, LeafHash: tiles.LeafHash(leaf).String(), Leaf: leaf, Event: json.RawMessage("null")}
		if ev, err := event.ParseLeaf(leaf); err == nil {
			if row.Event, err = json.Marshal(ev); err != nil {
				return err
			}
		}
		if err := e.add(ctx, row); err != nil {
			return err
		}
	}
	return nil
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
	e.pkg.setCheckpoint(note, cp)
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
func (e *exporter) add(ctx context.Context, row exportRow) error {
	leaf := tiles.LeafHash(row.Leaf)
	hashes, err := e.tree.InclusionProof(ctx, row.Index, leaf)
	if err != nil {
		return fmt.Errorf("entry %d: the ledger's index gave a leaf that is not the log's (run `ledger index verify`): %w", row.Index, err)
	}
	return e.pkg.add(row, &tiles.Proof{Extra: row.Leaf, Index: row.Index, Hashes: hashes})
}

// evidencePackage writes the files of an evidence package:
//
//	DIR/checkpoint              the signed checkpoint, with its cosignatures
//	DIR/events.ndjson           one exportRow per line
//	DIR/proofs/<index>.tlog-proof  a c2sp.org/tlog-proof@v1 per event
//	DIR/manifest.json           an exportManifest, written last
type evidencePackage struct {
	dir    string
	events *os.File
	w      *bufio.Writer
	note   []byte
	m      exportManifest
}

// newPackage creates the package directory, which must not exist or be empty.
func newPackage(dir string) (*evidencePackage, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%w: %s is not empty", errUsage, dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "proofs"), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "events.ndjson"))
	if err != nil {
		return nil, err
	}
	return &evidencePackage{dir: dir, events: f, w: bufio.NewWriter(f), m: exportManifest{Format: exportFormat, Created: time.Now().UTC()}}, nil
}

func (p *evidencePackage) setCheckpoint(note []byte, cp tiles.Checkpoint) {
	p.note = note
	p.m.Origin, p.m.TreeSize, p.m.RootHash = cp.Origin, cp.Size, cp.Hash.String()
}

func (p *evidencePackage) add(row exportRow, proof *tiles.Proof) error {
	proof.Checkpoint = p.note
	name := filepath.Join(p.dir, "proofs", strconv.FormatUint(row.Index, 10)+".tlog-proof")
	if err := os.WriteFile(name, proof.Marshal(), 0o644); err != nil {
		return err
	}
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	p.m.Count++
	_, err = p.w.Write(append(b, '\n'))
	return err
}

// finish writes the checkpoint and the manifest and syncs the events.
func (p *evidencePackage) finish() error {
	if err := p.w.Flush(); err != nil {
		return err
	}
	if err := p.events.Sync(); err != nil {
		return err
	}
	if err := p.events.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(p.dir, "checkpoint"), p.note, 0o644); err != nil {
		return err
	}
	m, err := json.MarshalIndent(p.m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.dir, "manifest.json"), append(m, '\n'), 0o644)
}
