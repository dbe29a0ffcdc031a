package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWarnLooseModes: a data directory of an older version (0755, with a
// 0644 index) gets a warning for each loose path, none for the private
// ones or for files that do not exist.
func TestWarnLooseModes(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"log.key": 0o600, "index.sqlite": 0o644, "keys.sqlite": 0o640, "tokens.json": 0o600} {
		if err := os.WriteFile(filepath.Join(data, name), nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(data, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	warnings := func() string {
		var buf bytes.Buffer
		warnLooseModes(slog.New(slog.NewTextHandler(&buf, nil)), data, "", filepath.Join(data, "tokens.json"))
		return buf.String()
	}
	got := warnings()
	if strings.Count(got, "level=WARN") != 2 || !strings.Contains(got, "index.sqlite mode=0644") || !strings.Contains(got, "keys.sqlite mode=0640") {
		t.Errorf("warnings:\n%s", got)
	}
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := warnings(); strings.Count(got, "level=WARN") != 3 || !strings.Contains(got, "path="+data+" mode=0755") {
		t.Errorf("with the directory 0755, warnings:\n%s", got)
	}
	for _, name := range []string{"index.sqlite", "keys.sqlite"} {
		os.Chmod(filepath.Join(data, name), 0o600)
	}
	os.Chmod(data, 0o700)
	if got := warnings(); got != "" {
		t.Errorf("a private data directory got warnings:\n%s", got)
	}
}
