package index

import (
	"path/filepath"
	"testing"
)

func openSQLite(t *testing.T) backend {
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "index.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) { runContract(t, openSQLite, 100_000) }
