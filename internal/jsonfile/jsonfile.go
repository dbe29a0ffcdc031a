// Package jsonfile keeps a small JSON document in a file that several
// processes may change: each change is made under a lock beside the file and
// replaces it atomically and durably, so that a crash leaves either the old
// document or the new one.
package jsonfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Update reads the file at path (nil if it does not exist), passes its
// bytes to update and replaces the file with what update returns. Concurrent
// updates, from this process or another, are serialised by a lock on
// path+".lock". An error from update leaves the file as it was.
func Update(path string, update func(old []byte) ([]byte, error)) error {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("couldn't lock %s: %w", path, err)
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	b, err := update(old)
	if err != nil {
		return err
	}
	return write(path, b)
}

// Decode decodes b, one JSON document, into v strictly: an unknown member
// or anything after the document is an error, so that a misspelt or
// damaged file is refused rather than half read.
func Decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON document")
	}
	return nil
}

// Marshal is the form documents are written in: indented, ending in a
// newline, so that an operator can read and diff them.
func Marshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// write replaces path with b: temporary file, fsync, rename, fsync of the
// directory. Mode 0600: these files say who may do what.
func write(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
