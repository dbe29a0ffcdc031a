package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/internal/durable"
)

// The log key is the log's identity: every checkpoint is signed with it,
// and witnesses and verifiers trust its vkey. A new key is a new log, so
// serve creates one only when told to (--init), and never over a log that
// lost its key.

// logKey is a log's signing key as serve opens it.
type logKey struct {
	signer note.Signer
	vkey   string
	path   string
}

// openKey loads the log key from keyFile, or from DIR/log.key. When DIR
// holds no key, it creates one if init is set (printing its vkey), and
// otherwise refuses: a mistyped --data must not start a new log identity.
func openKey(data, keyFile, origin string, init bool, stdout io.Writer) (*logKey, error) {
	path := keyFile
	if path == "" {
		path = filepath.Join(data, "log.key")
		_, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !init:
			return nil, fmt.Errorf("%w: %s holds no log (no %s): is --data right? To start a new log there, add --init (and --origin)", errUsage, data, path)
		case errors.Is(err, fs.ErrNotExist):
			if err := createFirstKey(data, path, origin, stdout); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, fmt.Errorf("couldn't read the log key: %w", err)
		}
	}
	signer, skey, err := loadSigner(path)
	if err != nil {
		return nil, err
	}
	if origin != "" && origin != signer.Name() {
		return nil, fmt.Errorf("%w: --origin %q does not match the key's name %q", errUsage, origin, signer.Name())
	}
	vkey, err := vkeyBeside(path, skey)
	if err != nil {
		return nil, err
	}
	return &logKey{signer: signer, vkey: vkey, path: path}, nil
}

// createFirstKey creates the key of a new log in DIR, refusing if DIR
// already holds a log signed by a key that is now missing.
func createFirstKey(data, path, origin string, stdout io.Writer) error {
	if _, err := os.Stat(filepath.Join(data, "log", "checkpoint")); err == nil {
		return fmt.Errorf("%s holds a log but not its key %s: restore the key from a backup (a new key would be a new log identity)", data, path)
	}
	if origin == "" {
		host, err := os.Hostname()
		if err != nil {
			return err
		}
		origin = host + "/ledger"
	}
	vkey, err := createKey(origin, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created a NEW LOG %s: its key %s is the log's identity; back it up\nlog vkey: %s\n", origin, path, vkey)
	return nil
}

// createKey writes a new Ed25519 log key to path (mode 0600, never
// overwriting) and its vkey to path.pub, and returns the vkey. Both are
// written atomically and fsync'd, the vkey first: a crash leaves either no
// key (and maybe a stale path.pub, which the next createKey replaces) or a
// whole key, whose vkey openKey derives again if path.pub is missing.
func createKey(origin, path string) (string, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", fmt.Errorf("%w: bad origin %q: %v", errUsage, origin, err)
	}
	if _, err := os.Stat(path); err == nil {
		return "", fmt.Errorf("%s already exists; refusing to overwrite a key", path)
	}
	if err := durable.WriteFile(path+".pub", []byte(vkey+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := durable.CreateNew(path, []byte(skey+"\n"), 0o600); errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("%s already exists; refusing to overwrite a key", path)
	} else if err != nil {
		return "", err
	}
	return vkey, nil
}

// loadSigner reads a private key file written by keygen, returning the
// signer and the key's text.
func loadSigner(path string) (note.Signer, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	skey := strings.TrimSpace(string(b))
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", fmt.Errorf("%s is not a log private key: %w", path, err)
	}
	return s, skey, nil
}

// vkeyBeside returns the vkey of skey, the key at path, checking it against
// path.pub, which it writes if it is missing (as a crash during createKey
// by an older version could leave it).
func vkeyBeside(path, skey string) (string, error) {
	vkey, err := vkeyOf(skey)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	b, err := os.ReadFile(path + ".pub")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return vkey, durable.WriteFile(path+".pub", []byte(vkey+"\n"), 0o644)
	case err != nil:
		return "", fmt.Errorf("couldn't read the vkey beside the key: %w", err)
	case strings.TrimSpace(string(b)) != vkey:
		return "", fmt.Errorf("%s.pub is not the vkey of %s (want %s): restore the pair from a backup, or delete %s.pub to write it again", path, path, vkey, path)
	}
	return vkey, nil
}

// vkeyOf derives the verifier key of a note private key
// "PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>".
func vkeyOf(skey string) (string, error) {
	// The name holds no '+', the hash is 8 hex digits; the base64 key may
	// hold '+'.
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	parts := strings.SplitN(rest, "+", 3)
	if !ok || len(parts) != 3 {
		return "", errors.New("not an Ed25519 note private key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", errors.New("not an Ed25519 note private key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[0], pub)
}

// warnKeyMode warns, on stdout and in the log, when the key file may be
// read by others than its owner.
func warnKeyMode(path string, stdout io.Writer, log *slog.Logger) {
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return
	}
	fmt.Fprintf(stdout, "WARNING: the log key %s has mode %v: others on this machine can read it and sign as this log; run chmod 600 %s\n", path, st.Mode().Perm(), path)
	log.Warn("the log key is readable by others", "path", path, "mode", st.Mode().Perm().String())
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
