package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"github.com/ledger-dev/ledger/ledger/hold"
	pgindex "github.com/ledger-dev/ledger/ledger/index/postgres"
	"github.com/ledger-dev/ledger/ledger/prune"
	"github.com/ledger-dev/ledger/ledger/retention"
	"github.com/ledger-dev/ledger/ledger/storage/postgres"
	"github.com/ledger-dev/ledger/tiles"
)

const pruneUsage = `usage: ledger prune --url URL [--token T] [--dry-run] [--json]
       ledger prune --dry-run --data DIR --config FILE [--postgres URL]

Prunes the log's left edge under the retention policy, the legal holds and
the archive: the minimum index advances, in whole bundles of 256 entries,
over the entries that may leave the hot store, the bundles below it are
deleted (their hash tiles stay, so every proof keeps verifying), the query
index drops their rows, and a retention.pruned event says what was done.
With --url, a running ledger does it (POST /v1/admin/prune, an admin
token); --dry-run only shows what would go and why the rest stays. The
offline --dry-run reads DIR (its holds.json and log, and index.sqlite or
the --postgres database) with the policy of FILE, while serve runs or not.
See docs/retention.md.

`

// cmdPrune runs `ledger prune`.
func cmdPrune(ctx context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
	fs := newFlags("prune")
	fs.Usage = usageText(fs, pruneUsage)
	dryRun := fs.Bool("dry-run", false, "show what would go and why the rest stays; remove nothing")
	rawURL := fs.String("url", "", "a running ledger's `URL`, which prunes (an admin token)")
	token := tokenFlag(fs, "an admin")
	asJSON := fs.Bool("json", false, "with --url: print the answer of POST /v1/admin/prune")
	data := fs.String("data", "", "offline dry run: the ledger's data `DIR` (holds.json, log, index.sqlite)")
	configFile := fs.String("config", "", "offline dry run: the serve configuration `FILE` with the retention policy")
	pgURL := fs.String("postgres", "", "offline dry run: the PostgreSQL `URL` of the log and its query index, for a ledger served with --postgres")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case *rawURL != "" && (*data != "" || *configFile != "" || *pgURL != ""):
		return fmt.Errorf("%w: --url asks the ledger, which has its own data and configuration: no --data, --config or --postgres", errUsage)
	case *rawURL != "":
		return pruneRemote(ctx, *rawURL, *token, *dryRun, *asJSON, stdout)
	case !*dryRun:
		return fmt.Errorf("%w: give --url: the running ledger prunes, since it owns the storage (offline, only --dry-run)", errUsage)
	case *data == "" || *configFile == "":
		return fmt.Errorf("%w: an offline --dry-run needs --data and --config", errUsage)
	}
	return pruneOffline(ctx, *data, *configFile, *pgURL, stdout)
}

// pruneRemote asks a running ledger to prune (or to dry-run).
func pruneRemote(ctx context.Context, rawURL, token string, dryRun, asJSON bool, stdout io.Writer) error {
	base, err := baseURL(rawURL)
	if err != nil {
		return err
	}
	client := newClient(token, 0)
	body, _ := json.Marshal(prune.Request{DryRun: dryRun})
	resp, err := send(ctx, client, "POST", base+"/v1/admin/prune", string(body), "the prune")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if asJSON {
		_, err := stdout.Write(b)
		return err
	}
	var res prune.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("the ledger's answer is not a prune result: %w", err)
	}
	doc, err := fetchRetention(ctx, client, base)
	if err != nil {
		return err
	}
	return printPrune(stdout, &res, doc.Rules, nil)
}

// pruneOffline makes the plan of a dry run from a data directory.
func pruneOffline(ctx context.Context, data, configFile, pgURL string, stdout io.Writer) error {
	conf, err := loadConfig(configFile)
	if err != nil {
		return err
	}
	holds, err := hold.Open(filepath.Join(data, hold.FileName)).List()
	if err != nil {
		return err
	}
	pruned, err := offlinePruned(ctx, data, pgURL)
	if err != nil {
		return err
	}
	var pg pgindex.Config
	if pgURL != "" {
		pg.DSN = pgURL
	}
	idx, err := openIndex(ctx, filepath.Join(data, "index.sqlite"), pg)
	if err != nil {
		return fmt.Errorf("couldn't open the query index: %w", err)
	}
	defer idx.Close()
	plan, err := prune.Decide(ctx, idx, prune.Input{Policy: conf.policy, Holds: holds, Now: time.Now(),
		Minimum: pruned.MinimumIndex, Size: math.MaxInt64, Full: true})
	if err != nil {
		return err
	}
	res := &prune.Result{DryRun: true, Plan: *plan, Entries: plan.Entries(), Pruned: tiles.Pruned{MinimumIndex: plan.MinimumIndex, Archive: pruned.Archive}}
	return printPrune(stdout, res, conf.policy.Rules(), holds)
}

// offlinePruned reads how far the log of a data directory (or of the
// PostgreSQL database) is pruned.
func offlinePruned(ctx context.Context, data, pgURL string) (tiles.Pruned, error) {
	if pgURL != "" {
		db, err := postgres.Open(ctx, postgres.Config{DSN: pgURL})
		if err != nil {
			return tiles.Pruned{}, err
		}
		defer db.Close()
		return db.Pruned(ctx)
	}
	return tiles.FetchPruned(ctx, tiles.DirFetcher(filepath.Join(data, "log")))
}

// printPrune writes what a run decided and did, naming the rules (and,
// offline, the holds' reasons).
func printPrune(w io.Writer, res *prune.Result, rules []retention.Rule, holds []hold.Hold) error {
	if res.DryRun {
		fmt.Fprintln(w, "dry run: nothing is removed")
	}
	fmt.Fprintf(w, "indexed entries read: %d to %d (entries not yet in the query index are not considered)\n", res.Previous, max(res.Indexed, res.Previous+1)-1)
	if res.Edge > res.Previous {
		fmt.Fprintf(w, "may go: entries %d to %d (%d entries)\n", res.Previous, res.Edge-1, res.Edge-res.Previous)
	}
	verb, now := "pruned", "is now"
	if res.DryRun {
		verb, now = "would prune", "would become"
	}
	if res.Entries == 0 {
		fmt.Fprintf(w, "%s: nothing; the minimum index stays %d (whole bundles of %d entries are pruned)\n", verb, res.Pruned.MinimumIndex, tiles.TileWidth)
	} else {
		fmt.Fprintf(w, "%s: entries %d to %d (%d entries); the minimum index %s %d\n", verb, res.Previous, res.Pruned.MinimumIndex-1, res.Entries, now, res.Pruned.MinimumIndex)
	}
	if a := res.Pruned.Archive; a != nil {
		fmt.Fprintf(w, "archive: %s (size %d)\n", a.Location, a.Size)
	}
	if res.Stop == "" {
		_, err := fmt.Fprintln(w, "every indexed entry may go")
		return err
	}
	fmt.Fprintf(w, "the left edge stops at %s\n", res.Stop)
	if !res.DryRun {
		return nil // a run reads no further than the edge
	}
	fmt.Fprintf(w, "entries that stay: %d\n", res.Indexed-res.Edge)
	for _, k := range res.Kept {
		if k.Rule <= len(rules) {
			r := rules[k.Rule-1]
			fmt.Fprintf(w, "  %d kept by rule %d (tenant %s, event_type %s, min %s): not old enough\n", k.Entries, k.Rule, r.Tenant, r.EventType, r.Min)
		}
	}
	for _, h := range res.Holds {
		reason := ""
		for _, hh := range holds {
			if hh.ID == h.Hold {
				reason = " (" + hh.Reason + ")"
			}
		}
		fmt.Fprintf(w, "  %d old enough, held by legal hold %s%s\n", h.Entries, h.Hold, reason)
	}
	if res.NotArchived > 0 {
		fmt.Fprintf(w, "  %d old enough and not held, but not archived yet\n", res.NotArchived)
	}
	if res.Forever > 0 {
		fmt.Fprintf(w, "  %d kept forever: no rule matches them\n", res.Forever)
	}
	_, err := fmt.Fprintf(w, "  %d old enough and not held, but behind the left edge (docs/retention.md#mixed-retention-in-one-log)\n", res.Stranded)
	return err
}
