package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ledger-dev/ledger/internal/durable"
)

// tmpDir is the directory of a Dir's temporary files, at its root; no
// object name may start with it.
const tmpDir = ".blob-tmp"

// Dir is a Store in a local directory: the object "a/b" is the file
// DIR/a/b. Put writes a temporary file under DIR/.blob-tmp, fsyncs it, and
// renames it into place (or, IfAbsent, hard-links it, which fails if the
// name is taken), then fsyncs the directories that changed. Any static web
// server serves DIR as the objects' HTTP endpoint.
//
// A directory cannot lock objects: anyone who may write the directory may
// delete or replace its files (a read-only mode bit does not stop a rename
// over the file), so a Put with PutOptions.RetainUntil fails with
// ErrNoLock. A write-once copy on a file system needs the file system's own
// means (an immutable attribute, a WORM volume).
type Dir struct {
	root string
}

// NewDir returns the Store in directory root, creating it if needed.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("blob: the directory is required")
	}
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create the object directory %s: %w", root, err)
	}
	return &Dir{root: root}, nil
}

// Root returns the directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	if name == tmpDir || strings.HasPrefix(name, tmpDir+"/") {
		return "", fmt.Errorf("object name %q is reserved for the directory's temporary files", name)
	}
	return filepath.Join(d.root, filepath.FromSlash(name)), nil
}

// Put stores data as the file of name, durably (see Dir).
func (d *Dir) Put(_ context.Context, name string, data []byte, opts PutOptions) error {
	path, err := d.path(name)
	if err != nil {
		return err
	}
	if !opts.RetainUntil.IsZero() {
		return fmt.Errorf("couldn't write object %s locked until %s: %w: it is a directory", name, opts.RetainUntil.UTC().Format(time.RFC3339), ErrNoLock)
	}
	if err := d.mkdirs(filepath.Dir(path)); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(d.root, tmpDir), "put-*")
	if err != nil {
		return fmt.Errorf("couldn't write object %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after a rename
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("couldn't write object %s: %w", name, err)
	}
	if opts.IfAbsent {
		err = os.Link(tmp.Name(), path)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", name, ErrExists)
		}
	} else {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("couldn't write object %s: %w", name, err)
	}
	return durable.SyncDir(filepath.Dir(path))
}

// mkdirs creates dir and its missing parents, durably: the directory that
// gains each new one is fsynced.
func (d *Dir) mkdirs(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	var created []string
	for p := dir; p != d.root && p != filepath.Dir(p); p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		created = append(created, p)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("couldn't create directory %s: %w", dir, err)
	}
	for _, p := range created {
		if err := durable.SyncDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

// Get reads the file of name.
func (d *Dir) Get(_ context.Context, name string) ([]byte, error) {
	path, err := d.path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || isDirErr(path, err) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read object %s: %w", name, err)
	}
	return b, nil
}

// isDirErr reports whether reading path failed because it is a directory
// (the prefix of other objects, not an object).
func isDirErr(path string, err error) bool {
	if err == nil {
		return false
	}
	fi, serr := os.Stat(path)
	return serr == nil && fi.IsDir()
}

// List walks the directory for the files whose names start with prefix,
// and calls fn with them sorted.
func (d *Dir) List(ctx context.Context, prefix string, fn func(name string) error) error {
	// Walk from the deepest directory the prefix names in full.
	start := d.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(d.root, filepath.FromSlash(prefix[:i]))
	}
	var names []string
	err := filepath.WalkDir(start, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(d.root, path)
		rel = filepath.ToSlash(rel)
		if e.IsDir() {
			if rel == tmpDir {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(rel, prefix) {
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("couldn't list objects under %q: %w", prefix, err)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the file of name and fsyncs its directory.
func (d *Dir) Delete(_ context.Context, name string) error {
	path, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("couldn't delete object %s: %w", name, err)
	}
	return durable.SyncDir(filepath.Dir(path))
}
