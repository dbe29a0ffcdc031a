package main_test

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestDataDirPrivate runs a real `ledger serve --init` in a directory that
// does not exist yet, appends an event carrying secrets in its free text
// (a card number, a password=... pair, an AWS key id, an IBAN), creates a
// token with `ledger token create`, stops the server and then checks the
// data directory: it and the log directory are 0700; the log key, the token
// file and the SQLite files of both indexes (with their -wal and -shm files
// when present) are 0600; and no file holds any of the secrets, while the
// near miss (an order number that fails the Luhn check) is kept.
func TestDataDirPrivate(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, ledgerBin, "--data", data, "--origin", "example.com/at-rest", "--publish-interval", "20ms")
	secrets := []string{"4111111111111111", "hunter3", "AKIAIOSFODNN7EXAMPLE", "GB82WEST12345698765432"}
	ev := `{"action":"pay","actor":{"id":"u-1","type":"user"},"resource":{"type":"order","id":"4111111111111112"},"result":"failure",` +
		`"failure_reason":"card 4111111111111111 declined; password=hunter3","reason":"refund to GB82WEST12345698765432",` +
		`"tags":{"note":"key AKIAIOSFODNN7EXAMPLE"},"changes":{"bank_account":{"new":"GB82WEST12345698765432"}}}`
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", "", ev); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	newToken(t, ledgerBin, data, "--role", "admin")
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()

	private := map[string]bool{ // the files that must be 0600, and whether they must exist
		"log.key": true, "tokens.json": true, "index.sqlite": true, "keys.sqlite": true, "log/.state": true,
		"tokens.json.lock": false, "index.sqlite-wal": false, "index.sqlite-shm": false, "keys.sqlite-wal": false, "keys.sqlite-shm": false,
	}
	var nearMiss bool
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(data, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode().Perm()
		switch {
		case rel == "." || rel == "log":
			if mode != 0o700 {
				t.Errorf("%s is mode %o, want 0700", path, mode)
			}
		case d.IsDir():
		default:
			if _, ok := private[rel]; ok {
				if mode != 0o600 {
					t.Errorf("%s is mode %o, want 0600", path, mode)
				}
				delete(private, rel)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds %q", path, s)
				}
			}
			nearMiss = nearMiss || bytes.Contains(b, []byte("4111111111111112"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, must := range private {
		if must {
			t.Errorf("no %s in the data directory", name)
		}
	}
	if !nearMiss {
		t.Error("the order number 4111111111111112, which fails the Luhn check, is in no file")
	}
}
