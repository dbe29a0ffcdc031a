package subjectkey_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/subjectkey"
	"github.com/ledger-dev/ledger/ledger/subjectkey/subjectkeytest"
)

// TestFile runs the store contract over a real file, shared by the Files
// opened on it as by processes, then checks what only a file shows: its
// mode, and that it holds no key in clear.
func TestFile(t *testing.T) {
	subjectkeytest.Run(t, func(t *testing.T) subjectkeytest.Opener {
		path := filepath.Join(t.TempDir(), "subjects.json")
		return func(t *testing.T, wrap subjectkey.Wrapper, resolution time.Duration) subjectkey.Store {
			f, err := subjectkey.OpenFile(path, wrap)
			if err != nil {
				t.Fatal(err)
			}
			f.Resolution = resolution
			return f
		}
	})

	path := filepath.Join(t.TempDir(), "subjects.json")
	s, err := subjectkey.OpenFile(path, subjectkeytest.MasterKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := s.Key(context.Background(), "acme", "alice", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, key) || strings.Contains(string(raw), hex.EncodeToString(key)) || strings.Contains(string(raw), base64.StdEncoding.EncodeToString(key)) {
		t.Fatal("the file holds a subject key in clear")
	}
}

func TestLoadMasterKey(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	good := strings.Repeat("ab", 32) + "\n"
	write := func(path, text string, mode os.FileMode) string {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tt := range []struct {
		name, path, env, want string
	}{
		{"file", write(filepath.Join(dir, "m.key"), good, 0o600), "", ""},
		{"env", "", strings.Repeat("cd", 32), ""},
		{"none", "", "", "no master key"},
		{"readable by others", write(filepath.Join(dir, "open.key"), good, 0o644), "", "make it 0600"},
		{"under the data directory", write(filepath.Join(data, "m.key"), good, 0o600), "", "under the data directory"},
		{"short", write(filepath.Join(dir, "short.key"), "abcd", 0o600), "", "64 hex digits"},
		{"missing", filepath.Join(dir, "nope.key"), "", "couldn't read the master key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(subjectkey.MasterKeyEnv, tt.env)
			_, err := subjectkey.LoadMasterKey(tt.path, data)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("LoadMasterKey = %v, want %q", err, tt.want)
			}
		})
	}
}

// BenchmarkFile measures the file store's operations (docs/benchmarks.md).
func BenchmarkFile(b *testing.B) {
	subjectkeytest.Bench(b, func(b *testing.B) subjectkey.Store {
		f, err := subjectkey.OpenFile(filepath.Join(b.TempDir(), "subject-keys.json"), subjectkeytest.MasterKey(b, 1))
		if err != nil {
			b.Fatal(err)
		}
		return f
	})
}
