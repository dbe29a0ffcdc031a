package evidence

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ledger-dev/ledger/internal/durable"
	"github.com/ledger-dev/ledger/tiles"
)

// ErrNotEmpty is returned by [Create] for a directory that holds files.
var ErrNotEmpty = errors.New("not empty")

// Writer writes an evidence package to a directory. It builds the package
// in a hidden directory beside it (.NAME.partial-*), and [Writer.Finish]
// moves it into place only once every file, the manifest last, is on disk:
// the directory is a whole package or absent (or empty, as it was), never a
// part of one. [Writer.Close] without Finish removes what was written, so
// a failed export can be retried at once; a writer that dies midway leaves
// only the hidden directory.
type Writer struct {
	// Manifest is what Finish writes as manifest.json. Create sets its
	// Format and Created, SetCheckpoint its Origin, TreeSize and RootHash,
	// and Add counts the rows; the caller sets Filters or Range.
	Manifest Manifest

	dir    string // where Finish puts the package
	tmp    string // where it is written
	events *os.File
	buf    *bufio.Writer
	note   []byte
}

// Create starts a package in dir, which must not exist or be empty.
func Create(dir string) (*Writer, error) {
	dir = filepath.Clean(dir)
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s is %w", dir, ErrNotEmpty)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create the package: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".partial-")
	if err != nil {
		return nil, fmt.Errorf("couldn't create the package: %w", err)
	}
	w := &Writer{dir: dir, tmp: tmp, Manifest: Manifest{Format: Format, Created: time.Now().UTC()}}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, w.abandon(fmt.Errorf("couldn't create the package: %w", err))
	}
	if err := os.Mkdir(filepath.Join(tmp, proofsDir), 0o755); err != nil {
		return nil, w.abandon(fmt.Errorf("couldn't create the package: %w", err))
	}
	if w.events, err = os.Create(filepath.Join(tmp, eventsFile)); err != nil {
		return nil, w.abandon(fmt.Errorf("couldn't create the package: %w", err))
	}
	w.buf = bufio.NewWriter(w.events)
	return w, nil
}

// abandon removes the partial package and returns err.
func (w *Writer) abandon(err error) error {
	if w.events != nil {
		w.events.Close()
		w.events = nil
	}
	os.RemoveAll(w.tmp)
	w.tmp = ""
	return err
}

// SetCheckpoint sets the signed checkpoint note that every proof is
// against, and cp, the checkpoint it signs. Call it before Add.
func (w *Writer) SetCheckpoint(note []byte, cp tiles.Checkpoint) {
	w.note = note
	w.Manifest.Origin, w.Manifest.TreeSize, w.Manifest.RootHash = cp.Origin, cp.Size, cp.Hash.String()
}

// Add writes a row and its proof: the inclusion proof hashes of its leaf
// in the checkpoint's tree. The caller has checked them against the
// checkpoint's root. A row with an event key makes the package one of
// FormatKeys.
func (w *Writer) Add(row Row, hashes []tiles.Hash) error {
	if w.note == nil {
		return errors.New("evidence: Add before SetCheckpoint")
	}
	proof := tiles.Proof{Extra: row.Leaf, Index: row.Index, Hashes: hashes, Checkpoint: w.note}
	if err := durable.Create(filepath.Join(w.tmp, proofPath(row.Index)), proof.Marshal(), 0o644); err != nil {
		return err
	}
	b, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("couldn't encode entry %d: %w", row.Index, err)
	}
	w.Manifest.Count++
	if row.EventKey != nil {
		w.Manifest.Format = FormatKeys
	}
	if _, err := w.buf.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("couldn't write %s: %w", eventsFile, err)
	}
	return nil
}

// Finish writes the checkpoint and then the manifest, each synced to disk
// with the directory, moves the package into place and closes the writer.
// On error nothing is left of the package.
func (w *Writer) Finish() error {
	if w.note == nil {
		return errors.New("evidence: Finish before SetCheckpoint")
	}
	if w.tmp == "" {
		return errors.New("evidence: Finish after Close")
	}
	if err := w.finish(); err != nil {
		return w.abandon(err)
	}
	w.tmp = ""
	return nil
}

func (w *Writer) finish() error {
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("couldn't write %s: %w", eventsFile, err)
	}
	if err := w.events.Sync(); err != nil {
		return fmt.Errorf("couldn't sync %s: %w", eventsFile, err)
	}
	err := w.events.Close()
	w.events = nil
	if err != nil {
		return fmt.Errorf("couldn't close %s: %w", eventsFile, err)
	}
	if err := durable.Create(filepath.Join(w.tmp, checkpointFile), w.note, 0o644); err != nil {
		return err
	}
	if err := durable.SyncDir(filepath.Join(w.tmp, proofsDir)); err != nil {
		return err
	}
	// At this point every file but the manifest is durable: a crash leaves
	// a directory that is not yet a package.
	m, err := json.MarshalIndent(w.Manifest, "", "  ")
	if err != nil {
		return fmt.Errorf("couldn't encode the manifest: %w", err)
	}
	if err := durable.Create(filepath.Join(w.tmp, manifestFile), append(m, '\n'), 0o644); err != nil {
		return err
	}
	if err := durable.SyncDir(w.tmp); err != nil {
		return err
	}
	// rename(2) replaces an empty directory, and fails on one that filled
	// up since Create. (os.Rename refuses any directory in the way.)
	if err := syscall.Rename(w.tmp, w.dir); err != nil {
		return fmt.Errorf("couldn't move the package into place: %w", err)
	}
	return durable.SyncDir(filepath.Dir(w.dir))
}

// Close abandons a package that Finish has not finished, removing what
// was written of it. It does nothing after Finish.
func (w *Writer) Close() error {
	if w.tmp == "" {
		return nil
	}
	return w.abandon(nil)
}
