package archive_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/ledger-dev/ledger/ledger/archive"
	"github.com/ledger-dev/ledger/ledger/blob"
)

// recordStore is a real archive whose record is replaced by given bytes.
type recordStore struct {
	*blob.Dir
	record []byte
}

func (r recordStore) Get(ctx context.Context, name string) ([]byte, error) {
	if name == archive.RecordName {
		return r.record, nil
	}
	return r.Dir.Get(ctx, name)
}

// FuzzReach gives Reach a real archive whose record is fuzzed bytes: it
// refuses them, or (the only signed checkpoint about being the real one)
// answers exactly the real archive's checkpoint.
func FuzzReach(f *testing.F) {
	g := newLog(f)
	dir := newDir(f)
	g.grow(300)
	if _, err := g.run(f, dir); err != nil {
		f.Fatal(err)
	}
	want, err := archive.Reach(f.Context(), dir, g.policy)
	if err != nil {
		f.Fatal(err)
	}
	real, err := dir.Get(f.Context(), archive.RecordName)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real)
	f.Add(bytes.Replace(real, []byte(`"to": 300`), []byte(`"to": 299`), 1))
	f.Add(bytes.Replace(real, []byte(`"from": 0`), []byte(`"from": 301`), 1))
	f.Add([]byte(`{"to": 0, "checkpoint": ""}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		cp, err := archive.Reach(t.Context(), recordStore{Dir: dir, record: rec}, g.policy)
		if err == nil && (cp.Size != want.Size || cp.Hash != want.Hash || cp.Origin != want.Origin) {
			t.Fatalf("Reach with record %q = %+v, want the archive's %+v or an error", rec, cp, want)
		}
	})
}
