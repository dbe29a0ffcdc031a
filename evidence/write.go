package evidence

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ledger-dev/ledger/internal/durable"
	"github.com/ledger-dev/ledger/tiles"
)

// ErrNotEmpty is returned by [Create] for a directory that holds files.
var ErrNotEmpty = errors.New("not empty")

// Writer writes an evidence package to a directory. The directory is a
// package only once [Writer.Finish] has written its manifest, last, after
// every other file is on disk: a writer that dies midway leaves a
// directory that [Open] refuses with [ErrNotPackage].
type Writer struct {
	// Manifest is what Finish writes as manifest.json. Create sets its
	// Format and Created, SetCheckpoint its Origin, TreeSize and RootHash,
	// and Add counts the rows; the caller sets Filters or Range.
	Manifest Manifest

	dir    string
	events *os.File
	buf    *bufio.Writer
	note   []byte
}

// Create starts a package in dir, which must not exist or be empty.
func Create(dir string) (*Writer, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s is %w", dir, ErrNotEmpty)
	}
	if err := os.MkdirAll(filepath.Join(dir, proofsDir), 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create the package: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, eventsFile))
	if err != nil {
		return nil, fmt.Errorf("couldn't create the package: %w", err)
	}
	return &Writer{dir: dir, events: f, buf: bufio.NewWriter(f), Manifest: Manifest{Format: Format, Created: time.Now().UTC()}}, nil
}

// SetCheckpoint sets the signed checkpoint note that every proof is
// against, and cp, the checkpoint it signs. Call it before Add.
func (w *Writer) SetCheckpoint(note []byte, cp tiles.Checkpoint) {
	w.note = note
	w.Manifest.Origin, w.Manifest.TreeSize, w.Manifest.RootHash = cp.Origin, cp.Size, cp.Hash.String()
}

// Add writes a row and its proof: the inclusion proof hashes of its leaf
// in the checkpoint's tree. The caller has checked them against the
// checkpoint's root.
func (w *Writer) Add(row Row, hashes []tiles.Hash) error {
	if w.note == nil {
		return errors.New("evidence: Add before SetCheckpoint")
	}
	proof := tiles.Proof{Extra: row.Leaf, Index: row.Index, Hashes: hashes, Checkpoint: w.note}
	if err := durable.Create(filepath.Join(w.dir, proofPath(row.Index)), proof.Marshal(), 0o644); err != nil {
		return err
	}
	b, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("couldn't encode entry %d: %w", row.Index, err)
	}
	w.Manifest.Count++
	if _, err := w.buf.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("couldn't write %s: %w", eventsFile, err)
	}
	return nil
}

// Finish writes the checkpoint and then the manifest, each synced to disk
// with the directory, and closes the writer.
func (w *Writer) Finish() error {
	if w.note == nil {
		return errors.New("evidence: Finish before SetCheckpoint")
	}
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("couldn't write %s: %w", eventsFile, err)
	}
	if err := w.events.Sync(); err != nil {
		return fmt.Errorf("couldn't sync %s: %w", eventsFile, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("couldn't close %s: %w", eventsFile, err)
	}
	if err := durable.Create(filepath.Join(w.dir, checkpointFile), w.note, 0o644); err != nil {
		return err
	}
	if err := durable.SyncDir(filepath.Join(w.dir, proofsDir)); err != nil {
		return err
	}
	if err := durable.SyncDir(w.dir); err != nil {
		return err
	}
	// At this point every file but the manifest is durable: a crash leaves
	// a directory that is not yet a package.
	m, err := json.MarshalIndent(w.Manifest, "", "  ")
	if err != nil {
		return fmt.Errorf("couldn't encode the manifest: %w", err)
	}
	if err := durable.Create(filepath.Join(w.dir, manifestFile), append(m, '\n'), 0o644); err != nil {
		return err
	}
	if err := durable.SyncDir(w.dir); err != nil {
		return err
	}
	// The directory's own entry, in case Create made it.
	return durable.SyncDir(filepath.Dir(w.dir))
}

// Close releases the writer without finishing the package. It does
// nothing after Finish.
func (w *Writer) Close() error {
	if w.events == nil {
		return nil
	}
	err := w.events.Close()
	w.events = nil
	return err
}
