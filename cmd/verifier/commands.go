package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// options are the flags every command shares.
type options struct {
	fs     *flag.FlagSet
	log    string
	vkey   string
	policy string
	token  string
	json   bool
}

func newOptions(name string, needLog bool) *options {
	o := &options{fs: flag.NewFlagSet("verifier "+name, flag.ContinueOnError)}
	o.fs.SetOutput(io.Discard) // errors are reported by run; --help by parse
	if needLog {
		o.fs.StringVar(&o.log, "log", "", "log URL prefix or tile directory")
		o.fs.StringVar(&o.token, "token", os.Getenv("LEDGER_TOKEN"), "bearer token for a log URL that serves entry bundles only to auditors (default $LEDGER_TOKEN)")
	}
	o.fs.StringVar(&o.vkey, "vkey", "", "the log's verifier key (vkey), or a file holding it")
	o.fs.StringVar(&o.policy, "policy", "", "a C2SP tlog-policy file")
	o.fs.BoolVar(&o.json, "json", false, "print a JSON report")
	return o
}

// parse parses args, allowing positional arguments before and after flags,
// and returns the positional arguments.
func (o *options) parse(args []string, r *report) ([]string, error) {
	var pos []string
	for {
		if err := o.fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			o.help(r.out)
			return nil, err
		} else if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = o.fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	r.json = o.json
	if (o.vkey == "") == (o.policy == "") {
		return nil, fmt.Errorf("%w: give exactly one of --vkey and --policy", errUsage)
	}
	if o.fs.Lookup("log") != nil && o.log == "" {
		return nil, fmt.Errorf("%w: --log is required", errUsage)
	}
	return pos, nil
}

// help prints the command's flags to w.
func (o *options) help(w io.Writer) {
	fmt.Fprintf(w, "usage: %s [flags]\n\nflags:\n", o.fs.Name())
	o.fs.SetOutput(w)
	o.fs.PrintDefaults()
	o.fs.SetOutput(io.Discard)
}

// trust loads the trust policy from --vkey (the key itself, or a file
// holding it, such as the FILE.pub of ledger keygen) or --policy.
func (o *options) trust() (*tiles.Policy, error) {
	if o.vkey != "" {
		vkey := o.vkey
		if b, err := os.ReadFile(vkey); err == nil {
			vkey = strings.TrimSpace(string(b))
		}
		p, err := tiles.NewLogPolicy(vkey)
		if err != nil {
			return nil, fmt.Errorf("%w: --vkey %s: %v (give the key, such as \"$(cat log.key.pub)\", or the file holding it)", errUsage, o.vkey, err)
		}
		return p, nil
	}
	b, err := os.ReadFile(o.policy)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	p, err := tiles.ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errUsage, o.policy, err)
	}
	return p, nil
}

// setup parses flags and opens the log and the policy.
func (o *options) setup(args []string, r *report) ([]string, tiles.Fetcher, *tiles.Policy, error) {
	pos, err := o.parse(args, r)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := o.trust()
	if err != nil {
		return nil, nil, nil, err
	}
	var f tiles.Fetcher
	if o.log != "" {
		if f, err = tiles.NewFetcher(o.log); err != nil {
			return nil, nil, nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if h, ok := f.(*tiles.HTTPFetcher); ok && o.token != "" {
			f = h.WithToken(o.token)
		}
	}
	return pos, f, p, nil
}

// verifyCheckpoint verifies a signed checkpoint under the policy and reports
// the log signature, each witness cosignature and the quorum.
func verifyCheckpoint(r *report, p *tiles.Policy, note []byte, label string) (*tiles.SignedCheckpoint, bool) {
	sc, err := p.Verify(note)
	if sc == nil {
		r.fail(label, err)
		return nil, false
	}
	r.ok(label, fmt.Sprintf("%s size %d root %s signed by the log", sc.Origin, sc.Size, sc.Hash),
		map[string]any{"origin": sc.Origin, "size": sc.Size, "root": sc.Hash.String()})
	for _, c := range sc.Cosignatures {
		r.ok("cosignature", fmt.Sprintf("witness %s (%s) cosigned size %d at %s", c.Witness, c.KeyName, sc.Size, c.Time.Format(time.RFC3339)),
			map[string]any{"witness": c.Witness, "key": c.KeyName, "time": c.Time})
	}
	for _, w := range sc.Invalid {
		r.fail("cosignature", fmt.Errorf("witness %s has a cosignature line that does not verify (not counted)", w))
	}
	if p.Quorum != nil {
		if err != nil {
			r.fail("quorum", err)
			return sc, false
		}
		earliest := sc.Cosignatures[0].Time
		for _, c := range sc.Cosignatures {
			if c.Time.Before(earliest) {
				earliest = c.Time
			}
		}
		r.ok("quorum", fmt.Sprintf("%s met by %d cosignatures; witnessed by %s", p.Quorum, len(sc.Cosignatures), earliest.Format(time.RFC3339)),
			map[string]any{"witnessed_by": earliest})
	}
	return sc, true
}

func fetchCheckpoint(ctx context.Context, r *report, f tiles.Fetcher, p *tiles.Policy) (*tiles.SignedCheckpoint, bool) {
	b, err := f.Fetch(ctx, tiles.CheckpointPath)
	if err != nil {
		r.fail("checkpoint", whereIsTheLog(f, err))
		return nil, false
	}
	return verifyCheckpoint(r, p, b, "checkpoint")
}

func cmdCheckpoint(ctx context.Context, args []string, r *report) error {
	o := newOptions("checkpoint", true)
	stateDir := o.fs.String("state", "", "directory remembering the last verified checkpoint")
	pos, f, p, err := o.setup(args, r)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	sc, ok := fetchCheckpoint(ctx, r, f, p)
	if !ok || *stateDir == "" {
		return nil
	}
	return checkAgainstState(ctx, r, f, p, sc, *stateDir)
}

func cmdInclusion(ctx context.Context, args []string, r *report) error {
	o := newOptions("inclusion", true)
	index := o.fs.Uint64("index", 0, "index of the entry")
	leafFile := o.fs.String("leaf", "", "file holding the expected entry bytes")
	proofOut := o.fs.String("proof-out", "", "write a c2sp.org/tlog-proof@v1 file here, the entry in its extra data ('verifier proof' checks it)")
	leafOut := o.fs.String("leaf-out", "", "write the entry's bytes here")
	pos, f, p, err := o.setup(args, r)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	if !flagSet(o.fs, "index") {
		return fmt.Errorf("%w: --index is required", errUsage)
	}
	var want []byte
	if *leafFile != "" {
		if want, err = os.ReadFile(*leafFile); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	sc, ok := fetchCheckpoint(ctx, r, f, p)
	if !ok {
		return nil
	}
	tree := tiles.NewTree(f, sc.Checkpoint)
	entry, err := tree.Entry(ctx, *index)
	if err != nil {
		return err
	}
	if want != nil && string(want) != string(entry) {
		return fmt.Errorf("entry %d in the log differs from %s (%d bytes vs %d)", *index, *leafFile, len(entry), len(want))
	}
	leaf := tiles.LeafHash(entry)
	proof, err := tree.InclusionProof(ctx, *index, leaf)
	if err != nil {
		return err
	}
	r.ok("inclusion", fmt.Sprintf("entry %d (leaf hash %s) is in the tree of size %d", *index, leaf, sc.Size),
		map[string]any{"index": *index, "leaf_hash": leaf.String(), "proof_hashes": len(proof)})
	if *proofOut != "" {
		tp := &tiles.Proof{Extra: entry, Index: *index, Hashes: proof, Checkpoint: sc.Note}
		if err := os.WriteFile(*proofOut, tp.Marshal(), 0o644); err != nil {
			return err
		}
	}
	if *leafOut != "" {
		if err := os.WriteFile(*leafOut, entry, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func cmdConsistency(ctx context.Context, args []string, r *report) error {
	o := newOptions("consistency", true)
	oldFile := o.fs.String("old", "", "the older signed checkpoint")
	newFile := o.fs.String("new", "", "the newer signed checkpoint (default: the log's current one)")
	pos, f, p, err := o.setup(args, r)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *oldFile == "" {
		return fmt.Errorf("%w: --old FILE is required", errUsage)
	}
	oldNote, err := os.ReadFile(*oldFile)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var newNote []byte
	if *newFile != "" {
		if newNote, err = os.ReadFile(*newFile); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	old, ok := verifyCheckpoint(r, p, oldNote, "old checkpoint")
	if !ok {
		return nil
	}
	var cur *tiles.SignedCheckpoint
	if newNote != nil {
		cur, ok = verifyCheckpoint(r, p, newNote, "new checkpoint")
	} else {
		cur, ok = fetchCheckpoint(ctx, r, f, p)
	}
	if !ok {
		return nil
	}
	return proveConsistency(ctx, r, f, old, cur)
}

// proveConsistency proves cur extends old with tiles of cur's tree and
// reports both checkpoints when it does not.
func proveConsistency(ctx context.Context, r *report, f tiles.Fetcher, old, cur *tiles.SignedCheckpoint) error {
	proof, err := tiles.NewTree(f, cur.Checkpoint).ProveConsistency(ctx, old.Checkpoint)
	if err != nil {
		return fmt.Errorf("%w\nolder checkpoint:\n%s\nnewer checkpoint:\n%s", err, indent(old.Note), indent(cur.Note))
	}
	r.ok("consistency", fmt.Sprintf("size %d extends size %d (%d proof hashes)", cur.Size, old.Size, len(proof)),
		map[string]any{"old_size": old.Size, "new_size": cur.Size})
	return nil
}

func cmdAudit(ctx context.Context, args []string, r *report) error {
	o := newOptions("audit", true)
	workers := o.fs.Int("workers", 0, "bundles hashed in parallel (default: number of CPUs)")
	archive := o.fs.String("archive", "", "the archive of a pruned log (a directory or an http(s) URL): re-hash the pruned entries there too")
	pos, f, p, err := o.setup(args, r)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	var af tiles.Fetcher
	if *archive != "" {
		if af, err = openArchive(*archive); err != nil {
			return err
		}
	}
	sc, ok := fetchCheckpoint(ctx, r, f, p)
	if !ok {
		return nil
	}
	sealed := newSealedEntries()
	res, err := auditLog(ctx, r, "audit", f, sc, *workers, sealed.add)
	if err != nil {
		return err
	}
	if res.Refused > 0 {
		r.ok("pruned", prunedRange(res)+"; every hash tile verified; "+strconv.FormatUint(res.Rehashed, 10)+" remaining entries re-hashed",
			map[string]any{"minimum_index": res.Pruned.MinimumIndex, "refused": res.Refused, "refused_end": res.RefusedEnd,
				"rehashed": res.Rehashed, "archive": res.Pruned.Archive})
	}
	if af != nil {
		// The archive's entries that the log still serves were seen already.
		inPruned := func(i uint64, e []byte) {
			if i < res.RefusedEnd {
				sealed.add(i, e)
			}
		}
		if ok, err := auditArchive(ctx, r, f, af, p, sc, res, *archive, *workers, inPruned); !ok || err != nil {
			return err
		}
	}
	sealed.report(r)
	return nil
}

// auditLog audits the log f against sc with a progress bar, passing every
// entry to entry, and reports it as check: what was re-hashed and, for a
// pruned log, that the hash tiles of the rest verify.
func auditLog(ctx context.Context, r *report, check string, f tiles.Fetcher, sc *tiles.SignedCheckpoint, workers int, entry func(uint64, []byte)) (tiles.AuditResult, error) {
	bar := r.progressBar(sc.Size)
	start := time.Now()
	res, err := tiles.AuditLog(ctx, f, sc.Checkpoint, tiles.AuditOptions{Workers: workers, Entry: entry,
		Progress: func(leaves uint64) { bar.Set64(int64(leaves)) }})
	if err != nil {
		bar.Exit() // leaves the bar where the audit stopped
		return res, err
	}
	bar.Finish()
	elapsed := time.Since(start)
	rate := float64(res.Rehashed) / max(elapsed.Seconds(), 1e-9)
	data := map[string]any{"size": sc.Size, "seconds": elapsed.Seconds(), "leaves_per_second": rate, "rehashed": res.Rehashed}
	if res.Refused == 0 {
		r.ok(check, fmt.Sprintf("all %d entries, %d bundles and every tile recompute root %s (%.1fs, %.0f leaves/s)",
			sc.Size, tiles.BundleCount(sc.Size), sc.Hash, elapsed.Seconds(), rate), data)
	} else {
		r.ok(check, fmt.Sprintf("every tile and the %d entries that remain recompute root %s; the %d pruned entries are covered by their hash tiles (%.1fs, %.0f leaves/s)",
			res.Rehashed, sc.Hash, res.Refused, elapsed.Seconds(), rate), data)
	}
	return res, nil
}

// prunedRange says which entries a pruned log refused, and where it says
// they are archived.
func prunedRange(res tiles.AuditResult) string {
	var s string
	if res.Refused == res.RefusedEnd {
		s = fmt.Sprintf("entries 0–%d pruned (minimum index %d", res.RefusedEnd-1, res.Pruned.MinimumIndex)
	} else {
		s = fmt.Sprintf("%d entries below %d pruned (minimum index %d", res.Refused, res.RefusedEnd, res.Pruned.MinimumIndex)
	}
	if a := res.Pruned.Archive; a != nil {
		return s + "; archived at " + a.String() + ")"
	}
	return s + "; the log names no archive)"
}

// openArchive opens the archive at location: a directory (or file:// URL)
// or an http(s) URL.
func openArchive(location string) (tiles.Fetcher, error) {
	if strings.HasPrefix(location, "s3://") {
		return nil, fmt.Errorf("%w: --archive %s: the verifier reads no bucket itself; copy the archive with `ledger mirror --from %s --to DIR` (which verifies it too) and give --archive DIR",
			errUsage, location, location)
	}
	af, err := tiles.NewFetcher(strings.TrimPrefix(location, "file://"))
	if err != nil {
		return nil, fmt.Errorf("%w: --archive: %v", errUsage, err)
	}
	return af, nil
}

// auditArchive checks the archive af of the log f, whose audit was logRes:
// a tlog-tiles log of the same origin and key, whose checkpoint meets the
// same policy, is consistent with the log's checkpoint sc, covers the
// pruned range and is audited in full, so that the entries the log pruned
// are hashed again there. It reports false when a check failed.
func auditArchive(ctx context.Context, r *report, f, af tiles.Fetcher, p *tiles.Policy, sc *tiles.SignedCheckpoint, logRes tiles.AuditResult,
	location string, workers int, entry func(uint64, []byte)) (bool, error) {
	b, err := af.Fetch(ctx, tiles.CheckpointPath)
	if err != nil {
		return false, fmt.Errorf("the archive at %s: %w", location, err)
	}
	ac, ok := verifyCheckpoint(r, p, b, "archive checkpoint")
	if !ok {
		return false, nil
	}
	if ac.Origin != sc.Origin {
		return false, fmt.Errorf("the archive at %s is a copy of the log %q, not of %q", location, ac.Origin, sc.Origin)
	}
	if ac.Size < logRes.RefusedEnd {
		return false, fmt.Errorf("the archive at %s holds %d entries; the log pruned entries up to %d", location, ac.Size, logRes.RefusedEnd-1)
	}
	if ac.Size <= sc.Size {
		err = proveConsistency(ctx, r, f, ac, sc)
	} else {
		err = proveConsistency(ctx, r, af, sc, ac)
	}
	if err != nil {
		return false, fmt.Errorf("the archive at %s is not a copy of this log: %w", location, err)
	}
	res, err := auditLog(ctx, r, "archive", af, ac, workers, entry)
	if err != nil {
		return false, fmt.Errorf("the archive at %s: %w", location, err)
	}
	if res.Refused > 0 {
		return false, fmt.Errorf("the archive at %s is itself pruned: %s", location, prunedRange(res))
	}
	if logRes.Refused > 0 {
		r.ok("archived", fmt.Sprintf("the %d entries the log pruned are re-hashed from the archive at %s, whose checkpoint of size %d is consistent with the log's",
			logRes.Refused, location, ac.Size), map[string]any{"location": location, "size": ac.Size, "rehashed": logRes.Refused})
	}
	return true, nil
}

func cmdProof(ctx context.Context, args []string, r *report) error {
	o := newOptions("proof", false)
	leafFile := o.fs.String("leaf", "", "file holding the entry bytes (default: the proof's extra data)")
	ledger := o.fs.String("ledger", "", "the ledger's base URL: ask it whether a sealed entry's payload is erased (GET /v1/events/{index})")
	o.fs.StringVar(&o.token, "token", os.Getenv("LEDGER_TOKEN"), "bearer token for --ledger, of a caller allowed to read the event (default $LEDGER_TOKEN)")
	skew := o.fs.Duration("max-future-skew", 5*time.Minute, "flag an event whose timestamp is more than this after the ledger received it")
	pos, _, p, err := o.setup(args, r)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want exactly one tlog-proof FILE", errUsage)
	}
	raw, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	proof, err := tiles.ParseProof(raw)
	if err != nil {
		return err
	}
	entry := proof.Extra
	if *leafFile != "" {
		if entry, err = os.ReadFile(*leafFile); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	if entry == nil {
		return fmt.Errorf("%w: the proof carries no entry in its extra data; give --leaf FILE", errUsage)
	}
	var ledgerAPI tiles.Fetcher
	if *ledger != "" {
		hf, err := tiles.NewHTTPFetcher(*ledger)
		if err != nil {
			return fmt.Errorf("%w: --ledger: %v", errUsage, err)
		}
		ledgerAPI = hf.WithToken(o.token)
	}
	sc, ok := verifyCheckpoint(r, p, proof.Checkpoint, "checkpoint")
	if !ok {
		return nil
	}
	leaf := tiles.LeafHash(entry)
	if err := tiles.VerifyInclusion(leaf, proof.Index, sc.Size, proof.Hashes, sc.Hash); err != nil {
		return err
	}
	r.ok("inclusion", fmt.Sprintf("entry %d (leaf hash %s) is in the tree of size %d", proof.Index, leaf, sc.Size),
		map[string]any{"index": proof.Index, "leaf_hash": leaf.String()})
	checkTimes(r, entry, sc, *skew)
	var erased bool
	if l, ok := readSealedLeaf(entry); ok && l.Sealed != nil && ledgerAPI != nil {
		if erased, err = ledgerSaysErased(ctx, r, ledgerAPI, proof.Index, entry); err != nil {
			return err
		}
	}
	checkSealed(r, entry, erased)
	return nil
}

// whereIsTheLog adds to a checkpoint that is not found where the log is
// and, for a directory that holds a log below it (a ledger's data
// directory holds its log in log/), where it might be.
func whereIsTheLog(f tiles.Fetcher, err error) error {
	dir, ok := f.(tiles.DirFetcher)
	if !ok || !errors.Is(err, tiles.ErrNotFound) {
		return err
	}
	err = fmt.Errorf("no checkpoint in %s: %w", dir, err)
	if _, serr := os.Stat(filepath.Join(string(dir), "log", tiles.CheckpointPath)); serr == nil {
		err = fmt.Errorf("%w (a log is in %s: --log %s?)", err, filepath.Join(string(dir), "log"), filepath.Join(string(dir), "log"))
	}
	return err
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func indent(b []byte) string {
	return "    " + strings.ReplaceAll(strings.TrimSuffix(string(b), "\n"), "\n", "\n    ")
}
