package access

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

// FileName is the token file's name in a ledger's data directory.
const FileName = "tokens.json"

// maxFileBytes bounds a token file: about 50,000 tokens.
const maxFileBytes = 16 << 20

// tokenFile is the JSON document of a token file.
type tokenFile struct {
	Tokens []Token `json:"tokens"`
}

// ParseFile decodes a token file, refusing unknown members, invalid tokens
// and duplicates.
func ParseFile(b []byte) ([]Token, error) {
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("token file is larger than %d bytes", maxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f tokenFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("token file: data after the JSON object")
	}
	if _, err := NewSet(f.Tokens...); err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	return f.Tokens, nil
}

// LoadFile reads the token file at path. A missing file holds no tokens
// and is reported with exists false.
func LoadFile(path string) (tokens []Token, exists bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	tokens, err = ParseFile(b)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", path, err)
	}
	return tokens, true, nil
}

// UpdateFile changes the token file at path with update, which gets the
// current tokens (none if the file is missing) and returns the new ones.
// Concurrent updates, from this process or another (the CLI and a running
// ledger), are serialised by a lock beside the file; the file is replaced
// atomically and durably (written, fsynced, renamed, directory fsynced), so
// a crash leaves either the old tokens or the new ones.
func UpdateFile(path string, update func([]Token) ([]Token, error)) error {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("couldn't lock %s: %w", path, err)
	}
	old, _, err := LoadFile(path)
	if err != nil {
		return err
	}
	tokens, err := update(old)
	if err != nil {
		return err
	}
	if _, err := NewSet(tokens...); err != nil {
		return err
	}
	b, err := json.MarshalIndent(tokenFile{Tokens: tokens}, "", "  ")
	if err != nil {
		return err
	}
	return writeDurably(path, append(b, '\n'))
}

// writeDurably replaces path with b: temporary file, fsync, rename, fsync
// of the directory. Mode 0600: hashes are not secrets, but who holds which
// role is nobody else's business.
func writeDurably(path string, b []byte) error {
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
