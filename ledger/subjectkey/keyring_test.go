package subjectkey

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func masterKey(t *testing.T, b byte) *MasterKey {
	t.Helper()
	m, err := NewMasterKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFile runs a subject's key through its life in a real file, read by a
// second File as another process would.
func TestFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "subjects.json")
	s, err := OpenFile(path, masterKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	kid, key, err := s.Key(ctx, "acme", "alice")
	if err != nil || len(key) != 32 || len(kid) != 32 {
		t.Fatalf("Key = %q, %x, %v", kid, key, err)
	}
	if kid2, key2, err := s.Key(ctx, "acme", "alice"); err != nil || kid2 != kid || !bytes.Equal(key2, key) {
		t.Fatalf("second Key = %q, %v; want the first", kid2, err)
	}
	bobKID, _, err := s.Key(ctx, "other", "alice")
	if err != nil || bobKID == kid {
		t.Fatalf("another tenant's alice got key %q, %v", bobKID, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, key) || strings.Contains(string(raw), hex.EncodeToString(key)) {
		t.Fatal("the file holds a subject key in clear")
	}

	other, err := OpenFile(path, masterKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := other.Open(ctx, kid); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Open = %x, %v", got, err)
	}
	if destroyed, err := other.Destroy(ctx, "acme", "alice"); err != nil || destroyed != kid {
		t.Fatalf("Destroy = %q, %v; want %q", destroyed, err, kid)
	}
	if _, err := s.Open(ctx, kid); !errors.Is(err, ErrErased) {
		t.Fatalf("Open after Destroy = %v, want ErrErased", err)
	}
	if _, err := s.Open(ctx, strings.Repeat("0", 32)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open of an unknown id = %v", err)
	}
	if again, err := s.Destroy(ctx, "acme", "alice"); err != nil || again != kid {
		t.Fatalf("second Destroy = %q, %v; want the id of the key destroyed, %q", again, err, kid)
	}
	if never, err := s.Destroy(ctx, "acme", "nobody"); err != nil || never != "" {
		t.Fatalf("Destroy of a subject without a key = %q, %v", never, err)
	}
	if newKID, _, err := s.Key(ctx, "acme", "alice"); err != nil || newKID == kid {
		t.Fatalf("Key after Destroy = %q, %v; want a new key", newKID, err)
	}
	if _, err := s.Open(ctx, bobKID); err != nil {
		t.Fatalf("the other tenant's key after the erasure: %v", err)
	}

	wrong, err := OpenFile(path, masterKey(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Open(ctx, bobKID); err == nil || !strings.Contains(err.Error(), "does not unwrap") {
		t.Fatalf("Open under another master key = %v", err)
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
			t.Setenv(MasterKeyEnv, tt.env)
			_, err := LoadMasterKey(tt.path, data)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("LoadMasterKey = %v, want %q", err, tt.want)
			}
		})
	}
}
