// Package jsonfile keeps a small JSON document in a file that several
// processes may change: each change is made under a lock beside the file and
// replaces it atomically and durably, so that a crash leaves either the old
// document or the new one.
package jsonfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"

	"github.com/ledger-dev/ledger/internal/durable"
	"github.com/ledger-dev/ledger/internal/lockfile"
)

// Update reads the file at path (nil if it does not exist), passes its
// bytes to update and replaces the file with what update returns. Concurrent
// updates, from this process or another, are serialised by a lock on
// path+".lock". An error from update leaves the file as it was.
func Update(path string, update func(old []byte) ([]byte, error)) error {
	lock, err := lockfile.Lock(path+".lock", 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	b, err := update(old)
	if err != nil {
		return err
	}
	// Mode 0600: these files say who may do what.
	return durable.WriteFile(path, b, 0o600)
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
