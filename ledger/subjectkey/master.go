package subjectkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeyEnv is the environment variable that may hold the master key, as
// 64 hex digits, instead of a file.
const MasterKeyEnv = "LEDGER_MASTER_KEY"

// MasterKey is a Wrapper: AES-256-GCM under a 32-byte key, each wrapped key
// being a random 12-byte nonce followed by the ciphertext and its tag.
type MasterKey struct {
	aead cipher.AEAD
}

// NewMasterKey returns the Wrapper of a 32-byte key.
func NewMasterKey(key []byte) (*MasterKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("a master key is 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &MasterKey{aead: aead}, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return b
}

// LoadMasterKey reads the master key from the file at path, or, when path
// is empty, from $LEDGER_MASTER_KEY: 64 hex digits. The file must not be
// readable by group or others, nor lie under dataDir, where a copy of the
// data would carry the key that opens it.
func LoadMasterKey(path, dataDir string) (*MasterKey, error) {
	var text string
	if path == "" {
		text = os.Getenv(MasterKeyEnv)
		if text == "" {
			return nil, fmt.Errorf("no master key: set master_key_file or $%s (64 hex digits; `openssl rand -hex 32` makes one)", MasterKeyEnv)
		}
	} else {
		if under(path, dataDir) {
			return nil, fmt.Errorf("master key file %s is under the data directory %s: keep it apart, or a copy of the data carries the key that opens it", path, dataDir)
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the master key: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("master key file %s has mode %v: make it 0600 (chmod 600 %s)", path, fi.Mode().Perm(), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the master key: %w", err)
		}
		text = string(b)
	}
	key, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil || len(key) != 32 {
		return nil, errors.New("the master key must be 64 hex digits (32 bytes)")
	}
	return NewMasterKey(key)
}

// under reports whether path lies in dir.
func under(path, dir string) bool {
	if dir == "" {
		return false
	}
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Wrap implements Wrapper.
func (m *MasterKey) Wrap(key, aad []byte) ([]byte, error) {
	nonce := randomBytes(m.aead.NonceSize())
	return m.aead.Seal(nonce, nonce, key, aad), nil
}

// Unwrap implements Wrapper.
func (m *MasterKey) Unwrap(wrapped, aad []byte) ([]byte, error) {
	n := m.aead.NonceSize()
	if len(wrapped) < n {
		return nil, errors.New("a wrapped key is too short")
	}
	key, err := m.aead.Open(nil, wrapped[:n], wrapped[n:], aad)
	if err != nil {
		return nil, errors.New("a subject key does not unwrap with this master key: is it the master key the keys were made with?")
	}
	return key, nil
}
