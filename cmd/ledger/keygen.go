package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

func cmdKeygen(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("keygen")
	origin := fs.String("origin", "", "the log's origin, e.g. audit.example.com/prod (also the key name)")
	keyFile := fs.String("key", "", "where to write the private key; the vkey goes to FILE.pub")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *origin == "" || *keyFile == "" {
		return fmt.Errorf("%w: --origin and --key are required", errUsage)
	}
	vkey, err := createKey(*origin, *keyFile)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, vkey)
	return nil
}

// createKey writes a new Ed25519 log key to path (mode 0600, never
// overwriting) and its vkey to path.pub, and returns the vkey.
func createKey(origin, path string) (string, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", fmt.Errorf("%w: bad origin %q: %v", errUsage, origin, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("%s already exists; refusing to overwrite a key", path)
	}
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.WriteFile(path+".pub", []byte(vkey+"\n"), 0o644); err != nil {
		return "", err
	}
	return vkey, nil
}

// loadSigner reads a private key file written by keygen.
func loadSigner(path string) (note.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s is not a log private key: %w", path, err)
	}
	return s, nil
}
