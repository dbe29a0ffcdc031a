package posix_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

// TestHistoryTornTail: a crash while a checkpoint was being recorded leaves
// a note without its index record, or part of a record; the history opens
// with the whole records, and the next publish overwrites the torn bytes.
func TestHistoryTornTail(t *testing.T) {
	dir := t.TempDir()
	sign := storagetest.WitnessedCheckpoints(t, "example.com/torn", 1)
	s, err := posix.Open(t.Context(), posix.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	five, nine := sign(5), sign(9)
	for _, cp := range [][]byte{five, nine} {
		if err := s.Publish(t.Context(), cp); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	appendTo := func(name string, b []byte) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(".checkpoints", []byte("half a note that never got its record"))
	appendTo(".checkpoints.idx", []byte{0, 0, 0, 0, 0, 0, 0, 12, 0, 0})
	if s, err = posix.Open(t.Context(), posix.Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	twelve := sign(12)
	if err := s.Publish(t.Context(), twelve); err != nil {
		t.Fatal(err)
	}
	for index, want := range map[uint64][]byte{4: five, 5: nine, 11: twelve} {
		if got, err := s.FirstCovering(t.Context(), index); err != nil || !bytes.Equal(got, want) {
			t.Errorf("FirstCovering(%d) = %q, %v; want %q", index, got, err, want)
		}
	}
}
