// Package durable writes files that survive a crash: a file is replaced
// whole or not at all, and once a call returns its new contents and its
// directory entry are on stable storage.
//
// A rename replaces a file atomically, but only the fsync of the file
// before it makes the new contents durable, and only the fsync of the
// directory after it makes the rename itself durable: without either, a
// crash may leave the old file, an empty one or none at all.
//
// It imports only the standard library: the verifier links it.
package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces the file at path with data, with mode perm (as given:
// the umask does not apply). It writes a temporary file in the same
// directory, fsyncs it, renames it over path and fsyncs the directory, so
// that a reader, or the file system after a crash, holds either the old
// file or the new one, never a part of one. The directory must exist. On
// error the temporary file is removed and path is as it was, unless the
// error is from the last fsync (the rename happened but may not be
// durable).
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("couldn't create a temporary file for %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := writeSync(tmp, data, perm); err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("couldn't replace %s: %w", path, err)
	}
	return SyncDir(dir)
}

// CreateNew writes data to a new file at path with mode perm (as given:
// the umask does not apply), atomically and never replacing a file: it
// writes and fsyncs a temporary file in the same directory, hard-links it
// to path (which fails with an error matching fs.ErrExist if path exists)
// and fsyncs the directory. A reader, or the file system after a crash,
// finds path whole or not at all; a crash may leave the temporary file
// (named .BASE.tmp-*), which nothing reads.
func CreateNew(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("couldn't create a temporary file for %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, data, perm); err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("couldn't create %s: %w", path, err)
	}
	return SyncDir(dir)
}

// Create writes data to a new file at path with mode perm (as given: the
// umask does not apply) and fsyncs it; the file must not exist. Its
// contents are then durable, but its directory entry is so only after a
// SyncDir of its directory: a caller that writes many files syncs the
// directory once, after the last.
func Create(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("couldn't create %s: %w", path, err)
	}
	if err := writeSync(f, data, perm); err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	return nil
}

// CreatePrivate creates an empty file at path with mode 0600, unless a
// file is there already, whose mode it leaves alone. It is for files that
// a library creates and fills itself and that hold what other users of the
// machine must not read: SQLite would otherwise create its database with
// the umask's mode (usually 0644), and it gives the -wal and -shm files it
// adds the mode of the database file.
func CreatePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("couldn't create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("couldn't create %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// writeSync writes data to f, sets its mode, fsyncs and closes it.
func writeSync(f *os.File, data []byte, perm fs.FileMode) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs the directory dir, making durable the entries created,
// renamed or removed in it.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("couldn't sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("couldn't sync directory %s: %w", dir, err)
	}
	return nil
}
