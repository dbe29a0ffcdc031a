// Package posix is the embedded storage driver: a directory laid out exactly
// as the C2SP tlog-tiles read API (servable by any static web server), plus a
// small commit-state file replaced atomically, and a lock file so that one
// writer at a time uses the directory.
//
// Layout:
//
//	DIR/checkpoint                 the published checkpoint
//	DIR/pruned.json                how far the log is pruned (tiles.Pruned), once it is
//	DIR/tile/<L>/<N>[.p/<W>]       hash tiles
//	DIR/tile/entries/<N>[.p/<W>]   entry bundles
//	DIR/.state                     the committed state (size, root, checkpoint)
//	DIR/.checkpoints[.idx]         every checkpoint published (see history)
//	DIR/.lock                      held (flock) by the writer
//
// Files beyond the committed state may be left by a flush that failed or
// died before its commit point: a failed flush removes what it wrote, and
// Open removes what a crashed one left, so that the directory holds nothing
// outside a committed state for a static web server to serve.
package posix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/ledger-dev/ledger/internal/durable"
	"github.com/ledger-dev/ledger/internal/lockfile"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

const (
	stateFile = ".state"
	lockFile  = ".lock"
)

// Storage is a posix storage driver. It implements ledger.Storage,
// ledger.CheckpointHistory and ledger.Pruner.
type Storage struct {
	dir  string
	lock *os.File
	hist *history

	mu    sync.Mutex // serialises Commit and Publish
	state ledger.State
	dirs  map[string]bool // directories known to exist

	prune  sync.Mutex   // serialises Prune
	pmu    sync.RWMutex // guards pruned
	pruned tiles.Pruned // as recorded in DIR/pruned.json
	// cleaned is how many of the bundles pruned refuses are deleted
	// (guarded by prune).
	cleaned uint64
}

// Config configures a Storage.
type Config struct {
	// Dir is the log directory, created if needed. Required.
	Dir string
}

// Open opens (creating if needed) the log directory cfg.Dir and takes its
// writer lock. It fails if another process holds the lock.
func Open(_ context.Context, cfg Config) (*Storage, error) {
	if cfg.Dir == "" {
		return nil, errors.New("posix: Config.Dir is required")
	}
	dir := cfg.Dir
	// 0700: the entry bundles hold the events' contents; only the ledger's
	// own user reads them, others through the API.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	lock, err := lockfile.TryLock(filepath.Join(dir, lockFile), 0o644)
	if err != nil {
		return nil, fmt.Errorf("log directory %s is in use by another writer: %w", dir, err)
	}
	s := &Storage{dir: dir, lock: lock, dirs: map[string]bool{}}
	if s.state, err = s.readState(); err != nil {
		lock.Close()
		return nil, err
	}
	if err := s.removeLeftovers(s.state.Size); err != nil {
		lock.Close()
		return nil, fmt.Errorf("couldn't remove what a failed flush left in %s: %w", dir, err)
	}
	if s.pruned, err = s.readPruned(); err != nil {
		lock.Close()
		return nil, err
	}
	if err := s.completePrune(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("couldn't delete what a prune left in %s: %w", dir, err)
	}
	if s.hist, err = openHistory(dir); err != nil {
		lock.Close()
		return nil, err
	}
	if err := s.startHistory(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// startHistory records the published checkpoint of a log written before
// the history existed as the history's first.
func (s *Storage) startHistory() error {
	if s.hist.records > 0 {
		return nil
	}
	cp, err := s.read(tiles.CheckpointPath)
	if errors.Is(err, tiles.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := tiles.ParseNoteCheckpoint(cp)
	if err != nil {
		return fmt.Errorf("the published checkpoint: %w", err)
	}
	return s.hist.add(c.Size, cp)
}

// Close releases the writer lock.
func (s *Storage) Close() error {
	s.hist.close()
	return s.lock.Close()
}

// stateJSON is the on-disk form of the committed state.
type stateJSON struct {
	Size       uint64 `json:"size"`
	Root       []byte `json:"root"`
	Checkpoint []byte `json:"checkpoint"`
}

func (s *Storage) readState() (ledger.State, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return ledger.State{}, nil
	}
	if err != nil {
		return ledger.State{}, err
	}
	var sj stateJSON
	if err := json.Unmarshal(b, &sj); err != nil || len(sj.Root) != tiles.HashSize {
		return ledger.State{}, fmt.Errorf("commit state %s is corrupt", filepath.Join(s.dir, stateFile))
	}
	return ledger.State{Size: sj.Size, Root: tiles.Hash(sj.Root), Checkpoint: sj.Checkpoint}, nil
}

// State returns the committed state.
func (s *Storage) State(context.Context) (ledger.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, nil
}

// Commit writes the flush's tiles and bundles and makes them durable, then
// replaces the commit-state file atomically: the rename (and the directory
// fsync after it) is the commit point.
func (s *Storage) Commit(_ context.Context, f *ledger.Flush) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.Size != f.Old.Size || s.state.Root != f.Old.Root {
		return ledger.ErrConflict
	}
	if err := f.CheckFullTiles(); err != nil {
		return err
	}
	sj, err := json.Marshal(stateJSON{Size: f.New.Size, Root: f.New.Root[:], Checkpoint: f.New.Checkpoint})
	if err != nil {
		return err
	}
	tmp, err := s.writeFlush(f, sj)
	if tmp != "" {
		defer os.Remove(tmp) // a no-op after the rename
	}
	if err != nil {
		// Nothing of the flush is committed: what it wrote goes, if the
		// file system lets it (a full one does).
		if rerr := s.removeLeftovers(f.Old.Size); rerr != nil {
			err = fmt.Errorf("%w; then couldn't remove what it wrote: %w", err, rerr)
		}
		return err
	}
	// At this point the tiles and the new state, under a temporary name,
	// are durable, but the commit-state file still says f.Old: a crash here
	// leaves a log of size f.Old.Size, and the new files are garbage that
	// the next flush overwrites.
	if err := os.Rename(tmp, filepath.Join(s.dir, stateFile)); err != nil {
		return err
	}
	if err := durable.SyncDir(s.dir); err != nil {
		return err
	}
	// At this point f.New is committed and survives a crash.
	s.state = f.New
	return nil
}

// ReadTile reads a hash tile or entry bundle; a bundle the log has pruned
// is a *tiles.PrunedError.
func (s *Storage) ReadTile(_ context.Context, t tiles.Tile) ([]byte, error) {
	if err := s.prunedBy(t); err != nil {
		return nil, err
	}
	return s.read(t.Path())
}

func (s *Storage) read(path string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(path)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, tiles.ErrNotFound)
	}
	return b, err
}

// Publish records the checkpoint in the history, then replaces the
// checkpoint file atomically and durably.
func (s *Storage) Publish(_ context.Context, checkpoint []byte) error {
	cp, err := tiles.ParseNoteCheckpoint(checkpoint)
	if err != nil {
		return fmt.Errorf("couldn't publish: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.hist.add(cp.Size, checkpoint); err != nil {
		return err
	}
	if cur, err := s.read(tiles.CheckpointPath); err == nil && bytes.Equal(cur, checkpoint) {
		return nil
	}
	return durable.WriteFile(filepath.Join(s.dir, filepath.FromSlash(tiles.CheckpointPath)), checkpoint, 0o644)
}

// FirstCovering returns the first published checkpoint that covers the
// entry at index (see ledger.CheckpointHistory).
func (s *Storage) FirstCovering(_ context.Context, index uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hist.firstCovering(index)
}

// writeFlush makes the flush's new tiles and its new commit state durable,
// and returns the path of the state's temporary file. Tiles are written
// straight to their paths: a path beyond the committed tree is read by
// nobody before the commit point (a torn file there is garbage that the next
// flush rewrites), and a tile the committed tree already holds is never
// rewritten.
//
// Every new file costs ext4 a journal commit when it is fsynced, and
// concurrent fsyncs share few of them: a flush of 45 files spent about 58 ms
// in per-file fsyncs here, against 20 ms for one syncfs. So a flush of up to
// syncfsFiles files fsyncs each file and each directory that gained one (in
// parallel), keeping its cost proportional to the flush whatever else
// writes to the file system; a larger one writes every file and then syncs
// the whole file system once.
func (s *Storage) writeFlush(f *ledger.Flush, state []byte) (tmpState string, err error) {
	type file struct {
		path string
		data []byte
	}
	dirs := map[string]bool{}
	var files []file
	for t, b := range f.Tiles {
		if f.Unchanged(t) {
			continue // committed already, with these very bytes
		}
		full := filepath.Join(s.dir, filepath.FromSlash(t.Path()))
		if err := s.mkdirs(filepath.Dir(full), dirs); err != nil {
			return "", err
		}
		dirs[filepath.Dir(full)] = true
		files = append(files, file{full, b})
	}
	tmp, err := os.CreateTemp(s.dir, ".tmp-state-*")
	if err != nil {
		return "", err
	}
	perFile := len(files) < syncfsFiles
	var g errgroup.Group
	g.SetLimit(32)
	// Creating a file is a file system transaction too: files are created
	// and written in parallel, not one after another.
	for _, w := range files {
		g.Go(func() error {
			fh, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			return writeClose(fh, w.data, perFile)
		})
	}
	g.Go(func() error { return writeClose(tmp, state, perFile) })
	if perFile {
		for dir := range dirs {
			g.Go(func() error { return durable.SyncDir(dir) })
		}
		return tmp.Name(), g.Wait()
	}
	if err := g.Wait(); err != nil {
		return tmp.Name(), err
	}
	return tmp.Name(), s.syncfs()
}

// syncfsFiles is the number of files from which a flush syncs the whole
// file system once rather than each file.
const syncfsFiles = 16

// writeClose writes data to fh, fsyncs it if sync is set, and closes it.
func writeClose(fh *os.File, data []byte, sync bool) error {
	_, err := fh.Write(data)
	if err != nil {
		err = fmt.Errorf("couldn't write %s: %w", fh.Name(), err)
	} else if sync {
		if err = fh.Sync(); err != nil {
			err = fmt.Errorf("couldn't sync %s: %w", fh.Name(), err)
		}
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncfs makes everything written to the log's file system durable: the
// files and directories of a flush among them.
func (s *Storage) syncfs() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("couldn't sync the file system of %s: %w", s.dir, err)
	}
	return nil
}

// mkdirs creates dir and its missing parents. It adds to sync every
// directory that gained an entry, so that the new directories are durable
// along with the files in them.
func (s *Storage) mkdirs(dir string, sync map[string]bool) error {
	if s.dirs[dir] {
		return nil
	}
	for d := dir; d != s.dir && !s.dirs[d]; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		sync[filepath.Dir(d)] = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.dirs[dir] = true
	return nil
}
