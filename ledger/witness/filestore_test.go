package witness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileStoreCrash checks what a restart finds after the ways a crash can
// leave the state file: a torn new slot falls back to the last acknowledged
// state, a whole one is the new state, a torn first write of an origin is
// no state (it was never acknowledged).
func TestFileStoreCrash(t *testing.T) {
	const origin = "example.com/log"
	set := func(t *testing.T, s *FileStore, v string) {
		t.Helper()
		if err := s.Update(t.Context(), origin, func([]byte) ([]byte, error) { return []byte(v), nil }); err != nil {
			t.Fatal(err)
		}
	}
	// Two acknowledged updates: v0 (sequence 1, slot 1) and v1 (sequence 2,
	// slot 0). The next update, sequence 3, writes slot 1.
	next := marshalSlot(3, origin, []byte(strings.Repeat("v2", 1000)))
	cases := []struct {
		name   string
		damage func(f *os.File)
		want   string // what a restart reads; "" means nothing
	}{
		{"next slot written in full", func(f *os.File) { f.WriteAt(next, slotSize) }, strings.Repeat("v2", 1000)},
		{"next slot torn", func(f *os.File) { f.WriteAt(next[:len(next)/2], slotSize) }, "v1"},
		{"next slot header only", func(f *os.File) {
			f.WriteAt(append(next[:slotHeader:slotHeader], make([]byte, slotSize-slotHeader)...), slotSize)
		}, "v1"},
		{"next slot zeroed", func(f *os.File) { f.WriteAt(make([]byte, slotSize), slotSize) }, "v1"},
		{"current slot damaged, not by a crash", func(f *os.File) { f.WriteAt([]byte("V"), int64(slotHeader+len(origin))) }, "v0"},
		{"first pair torn", func(f *os.File) { f.Truncate(slotHeader) }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenFileStore(t.Context(), FileStoreConfig{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			set(t, s, "v0")
			set(t, s, "v1")
			s.Close()
			f, err := os.OpenFile(filepath.Join(dir, "state"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			tc.damage(f)
			f.Close()
			s, err = OpenFileStore(t.Context(), FileStoreConfig{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := s.Get(t.Context(), origin)
			if err != nil || string(got) != tc.want || (tc.want == "") != (got == nil) {
				t.Fatalf("Get = %q, %v; want %q", got, err, tc.want)
			}
			// The store goes on from there.
			set(t, s, "next")
			if got, _ := s.Get(t.Context(), origin); string(got) != "next" {
				t.Fatalf("after recovery Get = %q", got)
			}
		})
	}
}

// TestFileStoreDirectory checks the directory's lock and the size limit.
func TestFileStoreDirectory(t *testing.T) {
	if _, err := OpenFileStore(t.Context(), FileStoreConfig{}); err == nil {
		t.Fatal("OpenFileStore without a directory succeeded")
	}
	dir := t.TempDir()
	s, err := OpenFileStore(t.Context(), FileStoreConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := OpenFileStore(t.Context(), FileStoreConfig{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second store on one directory: %v, want an in-use error", err)
	}
	big := make([]byte, MaxStateSize)
	if err := s.Update(t.Context(), "o", func([]byte) ([]byte, error) { return big, nil }); err == nil {
		t.Fatal("stored a value over MaxStateSize")
	}
	if err := s.Update(t.Context(), "o", func([]byte) ([]byte, error) { return big[1:], nil }); err != nil {
		t.Fatalf("value of MaxStateSize: %v", err)
	}
}
