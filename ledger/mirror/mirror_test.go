package mirror_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/internal/s3test"

	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/blobtest"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
	"github.com/ledger-dev/ledger/ledger/mirror"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

// source is a posix log the tests append to and mirror from.
type source struct {
	t      *testing.T
	dir    string
	policy *tiles.Policy
	signer note.Signer
	keys   ledger.KeyStore
	size   int
}

func newSource(t *testing.T) *source {
	signer, vkey := storagetest.NewSigner(t, "example.com/mirror")
	policy, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &source{t: t, dir: t.TempDir(), policy: policy, signer: signer, keys: storagetest.NewMemoryKeys()}
}

// grow appends n entries, and closes the ledger (which publishes them)
// and its storage.
func (s *source) grow(n int) {
	st, err := posix.Open(s.t.Context(), posix.Config{Dir: s.dir})
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	l := storagetest.NewLedger(s.t, st, s.keys, s.signer)
	var batch []ledger.Entry
	for range n {
		batch = append(batch, ledger.Entry{Leaf: fmt.Appendf(nil, "mirrored entry %d", s.size)})
		s.size++
	}
	if _, err := l.Append(s.t.Context(), batch); err != nil {
		s.t.Fatal(err)
	}
	if err := l.Close(s.t.Context()); err != nil {
		s.t.Fatal(err)
	}
}

func (s *source) run(t *testing.T, dst blob.Store) (mirror.Result, error) {
	return mirror.Run(t.Context(), mirror.Config{Source: tiles.DirFetcher(s.dir), Mirror: dst, Policy: s.policy, Logger: testlog.New(t)})
}

func newDir(t *testing.T) *blob.Dir {
	d, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// audit checks that the mirror directory is the source's log at size.
func audit(t *testing.T, root string, p *tiles.Policy, size int) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := p.Verify(raw)
	if err != nil || sc.Size != uint64(size) {
		t.Fatalf("mirror checkpoint: %v, %v; want size %d", sc, err, size)
	}
	if err := tiles.Audit(t.Context(), tiles.DirFetcher(root), sc.Checkpoint, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit of the mirror: %v", err)
	}
}

// TestIncremental mirrors a log, then mirrors it again after it grew:
// the second run starts at the mirror's size, and the mirror audits each
// time.
func TestIncremental(t *testing.T) {
	src := newSource(t)
	dst := newDir(t)
	if _, err := src.run(t, dst); err == nil {
		t.Fatal("mirroring a source with no checkpoint succeeded")
	}
	src.grow(3000)
	res, err := src.run(t, dst)
	if err != nil || res != (mirror.Result{From: 0, Resumed: 0, To: 3000}) {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	audit(t, dst.Root(), src.policy, 3000)
	src.grow(70000 - 3000) // three levels, partial tiles on each
	res, err = src.run(t, dst)
	if err != nil || res != (mirror.Result{From: 3000, Resumed: 3000, To: 70000}) {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	audit(t, dst.Root(), src.policy, 70000)
	if res, err = src.run(t, dst); err != nil || res.From != 70000 || res.To != 70000 {
		t.Fatalf("run with nothing new: %+v, %v", res, err)
	}
	if _, err := dst.Get(t.Context(), mirror.ProgressName); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("a finished run left its progress record: %v", err)
	}
}

// TestTampered changes one byte of the source in turn in a bundle, a
// level-0 tile and a level-1 tile beyond the mirror's size, and in the
// checkpoint: each run refuses with ErrTampered (or a signature error) and
// the mirror keeps its checkpoint.
func TestTampered(t *testing.T) {
	src := newSource(t)
	dst := newDir(t)
	src.grow(1000)
	if _, err := src.run(t, dst); err != nil {
		t.Fatal(err)
	}
	before, _ := dst.Get(t.Context(), "checkpoint")
	src.grow(65536 + 600 - 1000)
	for _, c := range []struct {
		path string
		at   int
	}{{"tile/entries/010", 100}, {"tile/0/100", 3000}, {"tile/1/000", 8000}, {"tile/entries/258.p/88", 5}, {"checkpoint", 40}} {
		t.Run(c.path, func(t *testing.T) {
			path := filepath.Join(src.dir, filepath.FromSlash(c.path))
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			changed := append([]byte(nil), orig...)
			changed[c.at] ^= 0x20
			if err := os.WriteFile(path, changed, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(path, orig, 0o644)
			_, err = src.run(t, dst)
			if err == nil {
				t.Fatal("mirrored a changed source")
			}
			if c.path != "checkpoint" && !errors.Is(err, mirror.ErrTampered) {
				t.Fatalf("changed %s: %v, want ErrTampered", c.path, err)
			}
			t.Logf("changed %s: %v", c.path, err)
			if now, _ := dst.Get(t.Context(), "checkpoint"); string(now) != string(before) {
				t.Fatal("the mirror published a checkpoint after a refused run")
			}
		})
	}
	if _, err := src.run(t, dst); err != nil {
		t.Fatalf("run after the source was restored: %v", err)
	}
	audit(t, dst.Root(), src.policy, src.size)
}

// TestResume stops a run part way (its writes fail from some point on)
// and checks that the next run resumes from the progress record, not from
// the start, and ends with a mirror that audits.
func TestResume(t *testing.T) {
	src := newSource(t)
	src.grow(100000)
	dst := &blobtest.FailingDir{Dir: newDir(t)}
	dst.Left.Store(500) // about 200 bundles and their tiles
	if _, err := src.run(t, dst); !errors.Is(err, blobtest.ErrKilled) {
		t.Fatalf("interrupted run: %v", err)
	}
	if _, err := dst.Get(t.Context(), "checkpoint"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("an interrupted run published a checkpoint: %v", err)
	}
	dst.Left.Store(1 << 40)
	res, err := src.run(t, dst)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed == 0 || res.Resumed%(mirror.ProgressEvery*tiles.TileWidth) != 0 || res.To != 100000 {
		t.Fatalf("resumed run: %+v, want it to start from a progress record", res)
	}
	audit(t, dst.Root(), src.policy, 100000)
}

// TestRetainUntil mirrors into a bucket with Object Lock on the real S3
// server: every tile, bundle and the checkpoint are locked in compliance
// mode until the date given, and the progress record is not left behind.
func TestRetainUntil(t *testing.T) {
	srv := s3test.Start(t)
	st, err := s3.Open(t.Context(), srv.Bucket(t, "worm", s3test.BucketOptions{ObjectLock: true}))
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(t)
	src.grow(600)
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	res, err := mirror.Run(t.Context(), mirror.Config{Source: tiles.DirFetcher(src.dir), Mirror: st, Policy: src.policy, Logger: testlog.New(t), RetainUntil: until})
	if err != nil || res.To != 600 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	var names []string
	if err := st.List(t.Context(), "", func(n string) error { names = append(names, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "checkpoint") || !slices.Contains(names, "tile/entries/002.p/88") || slices.Contains(names, mirror.ProgressName) {
		t.Fatalf("the bucket holds %q", names)
	}
	for _, n := range names {
		head, err := srv.Client().HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String(n)})
		if err != nil {
			t.Fatal(err)
		}
		if head.ObjectLockMode != types.ObjectLockModeCompliance || head.ObjectLockRetainUntilDate == nil || !head.ObjectLockRetainUntilDate.Equal(until) {
			t.Errorf("%s: lock %q until %v, want COMPLIANCE until %v", n, head.ObjectLockMode, head.ObjectLockRetainUntilDate, until)
		}
	}
}
