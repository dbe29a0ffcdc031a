package evidence

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/ledger-dev/ledger/tiles"
)

// ErrNotPackage is returned by [Open] for a directory with no readable
// manifest.json: not an evidence package, or one whose writer did not
// finish.
var ErrNotPackage = errors.New("not an evidence package")

// maxReportedFailures bounds the failing rows reported one by one.
const maxReportedFailures = 20

// Package is an evidence package opened for checking.
type Package struct {
	// Manifest is the package's manifest.json.
	Manifest *Manifest
	// Checkpoint is the package's signed checkpoint note, for the caller
	// to verify under its trust policy before calling [Package.Check].
	Checkpoint []byte
	fsys       fs.FS
}

// Open reads the manifest and the checkpoint of the package in fsys (such
// as os.DirFS(dir)).
func Open(fsys fs.FS) (*Package, error) {
	raw, err := fs.ReadFile(fsys, manifestFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotPackage, err)
	}
	m, err := parseManifest(raw)
	if err != nil {
		return nil, err
	}
	note, err := fs.ReadFile(fsys, checkpointFile)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the checkpoint: %w", err)
	}
	return &Package{Manifest: m, Checkpoint: note, fsys: fsys}, nil
}

// Result is the outcome of one check of [Package.Check].
type Result struct {
	// Check names what was checked: "events" (all rows passed), "event"
	// (one row that failed) or "range".
	Check string
	// Err is why the check failed; nil if it passed.
	Err error
	// Detail says in a sentence what a check that passed established.
	Detail string
	// Data holds the figures of a check that passed, for a report in JSON.
	Data map[string]any
}

// Check checks the package against sc, the package's checkpoint as the
// caller verified it, and calls report with each check's outcome: each row
// that fails (up to 20), then that all rows passed, then for a range
// export that the range is complete. It returns an error if any check
// failed, or if the package cannot be read through.
func (p *Package) Check(sc *tiles.SignedCheckpoint, report func(Result)) error {
	m := p.Manifest
	if !bytes.Equal(sc.Note, p.Checkpoint) {
		return errors.New("the checkpoint verified is not the package's")
	}
	if sc.Origin != m.Origin || sc.Size != m.TreeSize || sc.Hash.String() != m.RootHash {
		return fmt.Errorf("the manifest names %s size %d root %s, but the checkpoint is %s size %d root %s",
			m.Origin, m.TreeSize, m.RootHash, sc.Origin, sc.Size, sc.Hash)
	}
	seen, err := p.checkRows(sc, report)
	if err != nil {
		return err
	}
	if len(seen) != m.Count {
		return fmt.Errorf("the package holds %d events, but its manifest says %d", len(seen), m.Count)
	}
	if m.Range != nil {
		return checkRange(seen, *m.Range, report)
	}
	return nil
}

// checkRows checks every row of the package and its proof, and returns
// the indexes seen. Failing rows are reported one by one, up to
// maxReportedFailures, then counted.
func (p *Package) checkRows(sc *tiles.SignedCheckpoint, report func(Result)) (map[uint64]bool, error) {
	f, err := p.fsys.Open(eventsFile)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the events: %w", err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
	seen := map[uint64]bool{}
	failed, opened := 0, 0
	fail := func(err error) {
		if failed++; failed <= maxReportedFailures {
			report(Result{Check: "event", Err: err})
		}
	}
	for line := 1; lines.Scan(); line++ {
		r, err := parseRow(lines.Bytes(), p.Manifest.Format == FormatKeys)
		if r == nil {
			return nil, fmt.Errorf("%s line %d: %w", eventsFile, line, err)
		}
		if seen[r.Index] {
			fail(fmt.Errorf("entry %d appears twice", r.Index))
			continue
		}
		seen[r.Index] = true
		if err == nil {
			err = p.checkProof(sc, r)
		}
		if err != nil {
			fail(err)
		} else if r.EventKey != nil {
			opened++
		}
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", eventsFile, err)
	}
	if failed > 0 {
		return nil, fmt.Errorf("%d of %d events failed their checks", failed, len(seen))
	}
	detail := fmt.Sprintf("all %d events match their leaves, and each leaf is in the tree of size %d", len(seen), sc.Size)
	if opened > 0 {
		detail += fmt.Sprintf("; the sealed members of %d, shown in clear, open from their leaves with their event keys", opened)
	}
	report(Result{Check: "events", Detail: detail, Data: map[string]any{"events": len(seen), "opened": opened}})
	return seen, nil
}

// checkProof checks a row's tlog-proof file: for its index, against the
// package's checkpoint, carrying its leaf (if any extra data), and proving
// the leaf's inclusion.
func (p *Package) checkProof(sc *tiles.SignedCheckpoint, r *Row) error {
	raw, err := fs.ReadFile(p.fsys, proofPath(r.Index))
	if err != nil {
		return fmt.Errorf("entry %d: no proof: %w", r.Index, err)
	}
	proof, err := tiles.ParseProof(raw)
	switch {
	case err != nil:
		return fmt.Errorf("entry %d: %w", r.Index, err)
	case proof.Index != r.Index:
		return fmt.Errorf("entry %d: its proof is for index %d", r.Index, proof.Index)
	case proof.Extra != nil && !bytes.Equal(proof.Extra, r.Leaf):
		return fmt.Errorf("entry %d: its proof carries another leaf (%s)", r.Index, base64.StdEncoding.EncodeToString(proof.Extra))
	case !bytes.Equal(proof.Checkpoint, p.Checkpoint):
		return fmt.Errorf("entry %d: its proof is against another checkpoint than the package's", r.Index)
	}
	return tiles.VerifyInclusion(tiles.LeafHash(r.Leaf), r.Index, sc.Size, proof.Hashes, sc.Hash)
}

// checkRange checks that the package holds exactly the entries of rg.
func checkRange(seen map[uint64]bool, rg Range, report func(Result)) error {
	var missing []uint64
	for i := rg.From; i < rg.To && len(missing) < maxReportedFailures; i++ {
		if !seen[i] {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the range %d to %d is incomplete: entries %v... are missing", rg.From, rg.To-1, missing)
	}
	for i := range seen {
		if i < rg.From || i >= rg.To {
			return fmt.Errorf("entry %d is outside the range %d to %d", i, rg.From, rg.To-1)
		}
	}
	report(Result{Check: "range", Detail: fmt.Sprintf("every entry from %d to %d is in the package and proven: nothing in the range was left out", rg.From, rg.To-1),
		Data: map[string]any{"from": rg.From, "to": rg.To}})
	return nil
}

// proofPath is the name of the proof of the entry at index in a package.
func proofPath(index uint64) string {
	return proofsDir + "/" + strconv.FormatUint(index, 10) + ".tlog-proof"
}
