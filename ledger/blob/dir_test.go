package blob_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// TestDirCannotLock checks that a directory refuses a locked Put rather
// than write an object it cannot protect.
func TestDirCannotLock(t *testing.T) {
	d, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = d.Put(t.Context(), "checkpoint", []byte("x"), blob.PutOptions{RetainUntil: time.Now().Add(time.Hour)})
	if !errors.Is(err, blob.ErrNoLock) {
		t.Fatalf("locked Put in a directory: %v, want ErrNoLock", err)
	}
	if _, err := d.Get(t.Context(), "checkpoint"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("the refused Put left an object: %v", err)
	}
}
