package access

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ledger-dev/ledger/internal/jsonfile"
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
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New(`token file is empty: it holds {"tokens": [...]} as 'ledger token create' writes it`)
	}
	var f tokenFile
	if err := jsonfile.Decode(b, &f); err != nil {
		return nil, fmt.Errorf("token file: %w", err)
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
// atomically and durably, so a crash leaves either the old tokens or the
// new ones.
func UpdateFile(path string, update func([]Token) ([]Token, error)) error {
	return jsonfile.Update(path, func(b []byte) ([]byte, error) {
		var old []Token
		if b != nil {
			var err error
			if old, err = ParseFile(b); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		tokens, err := update(old)
		if err != nil {
			return nil, err
		}
		if _, err := NewSet(tokens...); err != nil {
			return nil, err
		}
		return jsonfile.Marshal(tokenFile{Tokens: tokens})
	})
}
