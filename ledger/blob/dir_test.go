package blob_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/blobtest"
)

func TestDirContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		d, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestDirLayout checks that an object is the file of its name, so that a
// static web server over the directory serves the objects, and that the
// temporary files' directory is neither listed nor writable by name.
func TestDirLayout(t *testing.T) {
	root := t.TempDir()
	d, err := blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(t.Context(), "tile/entries/000", []byte("bundle"), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "tile", "entries", "000"))
	if err != nil || string(b) != "bundle" {
		t.Fatalf("file of tile/entries/000: %q, %v", b, err)
	}
	if err := d.Put(t.Context(), ".blob-tmp/x", nil, blob.PutOptions{}); err == nil {
		t.Fatal("Put under the temporary files' directory succeeded")
	}
	var names []string
	d.List(t.Context(), "", func(n string) error { names = append(names, n); return nil })
	if len(names) != 1 {
		t.Fatalf("List = %q, want only tile/entries/000", names)
	}
}
