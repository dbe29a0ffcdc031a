package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// entries returns the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestWriteFile(t *testing.T) {
	// The mode is as given, whatever the umask.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		name     string
		existing []byte // nil: no file before
		data     []byte
		perm     fs.FileMode
	}{
		{name: "new", data: []byte("hello\n"), perm: 0o600},
		{name: "new readable", data: []byte("hello\n"), perm: 0o644},
		{name: "replace", existing: []byte("an older and longer file\n"), data: []byte("new\n"), perm: 0o644},
		{name: "empty", existing: []byte("old\n"), data: []byte{}, perm: 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "file")
			if tc.existing != nil {
				if err := os.WriteFile(path, tc.existing, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(path, tc.data, tc.perm); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(tc.data) {
				t.Errorf("file holds %q, want %q", got, tc.data)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != tc.perm {
				t.Errorf("mode %v, want %v", st.Mode().Perm(), tc.perm)
			}
			if names := entries(t, dir); len(names) != 1 {
				t.Errorf("directory holds %q, want only the file", names)
			}
		})
	}
}

func TestWriteFileErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "missing", "file"), []byte("x"), 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile in a missing directory: %v, want an error wrapping fs.ErrNotExist", err)
	}
	// A directory in the way: the rename fails, and neither it nor a
	// temporary file is left behind.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "inside"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(sub, []byte("x"), 0o600); err == nil {
		t.Error("WriteFile over a non-empty directory succeeded")
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "sub" {
		t.Errorf("directory holds %q after a failed write, want only sub", names)
	}
	if b, err := os.ReadFile(filepath.Join(sub, "inside")); err != nil || string(b) != "kept" {
		t.Errorf("the directory in the way changed: %q, %v", b, err)
	}
}

// TestCreate checks Create and CreateNew: the file holds the data with the
// mode given, an existing file is never replaced, and CreateNew leaves no
// temporary file.
func TestCreate(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	for name, create := range map[string]func(string, []byte, fs.FileMode) error{"Create": Create, "CreateNew": CreateNew} {
		dir := t.TempDir()
		path := filepath.Join(dir, "file")
		if err := create(path, []byte("hello\n"), 0o644); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "hello\n" || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: file holds %q with mode %v, want %q with mode 0644", name, got, st.Mode().Perm(), "hello\n")
		}
		if err := create(path, []byte("other"), 0o644); !errors.Is(err, fs.ErrExist) {
			t.Errorf("%s over an existing file: %v, want an error wrapping fs.ErrExist", name, err)
		}
		if got, _ := os.ReadFile(path); string(got) != "hello\n" {
			t.Errorf("%s: the existing file changed to %q", name, got)
		}
		if names := entries(t, dir); len(names) != 1 {
			t.Errorf("%s: directory holds %q, want only the file", name, names)
		}
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SyncDir of a missing directory: %v, want an error wrapping fs.ErrNotExist", err)
	}
}

func TestCreatePrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "index.sqlite")
	if err := CreatePrivate(path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 || st.Size() != 0 {
		t.Fatalf("created %v, %v; want an empty file of mode 0600", st, err)
	}
	// An existing file keeps its contents and its mode.
	if err := os.WriteFile(path, []byte("db"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := CreatePrivate(path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "db" {
		t.Errorf("the existing file now holds %q", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("the existing file's mode is now %o", st.Mode().Perm())
	}
	if err := CreatePrivate(filepath.Join(dir, "missing", "x")); err == nil || !strings.Contains(err.Error(), "couldn't create") {
		t.Errorf("in a missing directory: %v", err)
	}
}
