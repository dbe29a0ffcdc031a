package archive_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ledger-dev/ledger/internal/s3test"
	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/archive"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/blobtest"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
	"github.com/ledger-dev/ledger/ledger/mirror"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

// testLog is a running ledger over posix storage, archived from its own
// storage and published checkpoint, as serve does.
type testLog struct {
	t      testing.TB
	l      *ledger.Ledger
	store  *posix.Storage
	policy *tiles.Policy
	size   int
}

func newLog(t testing.TB) *testLog {
	signer, vkey := storagetest.NewSigner(t, "example.com/archive")
	policy, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		t.Fatal(err)
	}
	st, err := posix.Open(t.Context(), posix.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(t.Context(), ledger.Config{Storage: st, Keys: storagetest.NewMemoryKeys(), Signer: signer,
		KeyOf: storagetest.KeyBeforeBar, PublishInterval: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close(context.Background())
		st.Close()
	})
	return &testLog{t: t, l: l, store: st, policy: policy}
}

// grow appends n entries and waits until the ledger publishes them.
func (g *testLog) grow(n int) {
	var batch []ledger.Entry
	for range n {
		batch = append(batch, ledger.Entry{Leaf: fmt.Appendf(nil, "archived entry %d", g.size)})
		g.size++
	}
	if _, err := g.l.Append(g.t.Context(), batch); err != nil {
		g.t.Fatal(err)
	}
	for {
		if _, size := g.l.Published(); size == uint64(g.size) {
			return
		}
		select {
		case <-g.t.Context().Done():
			g.t.Fatal("the ledger did not publish")
		case <-time.After(time.Millisecond):
		}
	}
}

func (g *testLog) config(t testing.TB, target blob.Store) archive.Config {
	return archive.Config{Source: archive.Source(g.store, func() []byte { n, _ := g.l.Published(); return n }),
		Target: target, Location: "file:///archive", Policy: g.policy, Logger: testlog.New(t)}
}

func (g *testLog) run(t testing.TB, target blob.Store) (archive.Record, error) {
	return archive.Run(t.Context(), g.config(t, target))
}

func newDir(t testing.TB) *blob.Dir {
	d, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// wantReach checks that Reach says size, and that the archive audits whole
// at that size.
func wantReach(t *testing.T, target blob.Store, p *tiles.Policy, size uint64) {
	t.Helper()
	cp, err := archive.Reach(t.Context(), target, p)
	if err != nil || cp.Size != size {
		t.Fatalf("Reach = %d, %v; want %d", cp.Size, err, size)
	}
	if err := tiles.Audit(t.Context(), mirror.Fetcher(target), cp, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit of the archive at size %d: %v", size, err)
	}
}

// TestRunDir archives a growing log to a directory: each run copies from
// the last verified size, re-hashes what it copied, and records it.
func TestRunDir(t *testing.T) {
	g := newLog(t)
	dst := newDir(t)
	if _, err := archive.Reach(t.Context(), dst, g.policy); !errors.Is(err, tiles.ErrNotFound) {
		t.Fatalf("Reach of an empty archive: %v, want ErrNotFound", err)
	}
	if rec, err := g.run(t, dst); err != nil || rec.To != 0 {
		t.Fatalf("archive of the empty log: %+v, %v", rec, err)
	}
	g.grow(600)
	rec, err := g.run(t, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rec.From != 0 || rec.To != 600 || rec.Location != "file:///archive" || !rec.RetainUntil.IsZero() || rec.ArchivedAt.IsZero() {
		t.Fatalf("first record: %+v", rec)
	}
	wantReach(t, dst, g.policy, 600)
	if a, err := archive.Locate(t.Context(), dst, g.policy); err != nil || a != (tiles.Archive{Location: "file:///archive", Size: 600, ArchivedAt: rec.ArchivedAt}) {
		t.Fatalf("Locate = %+v, %v", a, err)
	}
	note, _ := dst.Get(t.Context(), tiles.CheckpointPath)
	if rec.Checkpoint != string(note) || len(rec.CheckpointSHA256) != 64 {
		t.Fatalf("the record's checkpoint %q (sha256 %s) is not the archive's %q", rec.Checkpoint, rec.CheckpointSHA256, note)
	}
	g.grow(70000 - 600)
	if rec, err = g.run(t, dst); err != nil || rec.From != 600 || rec.To != 70000 {
		t.Fatalf("second run: %+v, %v", rec, err)
	}
	wantReach(t, dst, g.policy, 70000)
	if rec, err = g.run(t, dst); err != nil || rec.From != 70000 || rec.To != 70000 {
		t.Fatalf("run with nothing new: %+v, %v", rec, err)
	}
	b, err := dst.Get(t.Context(), archive.RecordName)
	if err != nil {
		t.Fatal(err)
	}
	var stored archive.Record
	if err := json.Unmarshal(b, &stored); err != nil || stored.To != 70000 || stored.CheckpointSHA256 != rec.CheckpointSHA256 {
		t.Fatalf("%s = %s, %v", archive.RecordName, b, err)
	}
}

// rottingStore is a real directory that flips a byte of one object as it
// writes it: storage that loses what it was given.
type rottingStore struct {
	*blob.Dir
	name string
}

func (r rottingStore) Put(ctx context.Context, name string, data []byte, opts blob.PutOptions) error {
	if name == r.name {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0x01
	}
	return r.Dir.Put(ctx, name, data, opts)
}

// TestTampered checks that the read-back finds an archived object that is
// not what was copied, and that Reach then stays at the last verified size;
// and that Reach refuses an archive changed after it was verified.
func TestTampered(t *testing.T) {
	g := newLog(t)
	dir := newDir(t)
	g.grow(300)
	if _, err := g.run(t, dir); err != nil {
		t.Fatal(err)
	}
	g.grow(1000)
	for _, name := range []string{"tile/entries/002", "tile/0/003", "tile/entries/005.p/20"} {
		t.Run(name, func(t *testing.T) {
			_, err := g.run(t, rottingStore{Dir: dir, name: name})
			if !errors.Is(err, tiles.ErrTampered) {
				t.Fatalf("run into a store that changed %s: %v, want ErrTampered", name, err)
			}
			t.Logf("changed %s: %v", name, err)
			if cp, err := archive.Reach(t.Context(), dir, g.policy); err != nil || cp.Size != 300 {
				t.Fatalf("Reach after a refused run = %d, %v; want 300", cp.Size, err)
			}
		})
	}
	if _, err := g.run(t, dir); err != nil {
		t.Fatalf("run into a store that keeps what it is given: %v", err)
	}
	wantReach(t, dir, g.policy, 1300)

	// Changed after the run: the last bundle Reach authenticates, and the
	// record itself.
	for _, c := range []struct{ path, from, to string }{
		{"tile/entries/005.p/20", "archived entry 1299", "archived entry 9999"},
		{archive.RecordName, `"to": 1300`, `"to": 1299`},
	} {
		path := filepath.Join(dir.Root(), filepath.FromSlash(c.path))
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		changed := []byte(string(orig))
		if i := indexOf(orig, c.from); i < 0 {
			t.Fatalf("%s does not hold %q", c.path, c.from)
		} else {
			copy(changed[i:], c.to)
		}
		os.WriteFile(path, changed, 0o644)
		if _, err := archive.Reach(t.Context(), dir, g.policy); !errors.Is(err, tiles.ErrTampered) {
			t.Fatalf("Reach of an archive whose %s changed: %v, want ErrTampered", c.path, err)
		}
		os.WriteFile(path, orig, 0o644)
	}
	wantReach(t, dir, g.policy, 1300)
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

// TestInterrupted stops runs at every few writes: Reach never moves until
// a run has finished, and the next run takes over.
func TestInterrupted(t *testing.T) {
	g := newLog(t)
	dst := &blobtest.FailingDir{Dir: newDir(t)}
	dst.Left.Store(1 << 40)
	g.grow(1000)
	if _, err := g.run(t, dst); err != nil {
		t.Fatal(err)
	}
	g.grow(40000)
	var reached []int64
	for left := int64(0); ; left += 37 {
		dst.Left.Store(left)
		_, err := g.run(t, dst)
		if err == nil {
			break
		}
		if !errors.Is(err, blobtest.ErrKilled) {
			t.Fatalf("run stopped after %d writes: %v", left, err)
		}
		cp, rerr := archive.Reach(t.Context(), dst, g.policy)
		if rerr != nil || cp.Size != 1000 {
			t.Fatalf("Reach after a run stopped at %d writes = %d, %v; want 1000", left, cp.Size, rerr)
		}
		reached = append(reached, left)
	}
	if len(reached) < 3 {
		t.Fatalf("only %d interrupted runs", len(reached))
	}
	wantReach(t, dst, g.policy, 41000)
}

// TestObjectLock archives to a bucket with Object Lock on the real S3
// server: every object of the archive, the record included, is locked in
// compliance mode until the date the configuration gives; a directory
// refuses a locked archive.
func TestObjectLock(t *testing.T) {
	srv := s3test.Start(t)
	st, err := s3.Open(t.Context(), srv.Bucket(t, "worm", s3test.BucketOptions{ObjectLock: true}))
	if err != nil {
		t.Fatal(err)
	}
	g := newLog(t)
	g.grow(700)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	cfg := g.config(t, st)
	cfg.Location = "s3://worm"
	cfg.Now = func() time.Time { return now }
	cfg.RetainUntil = func(at time.Time) time.Time {
		if !at.Equal(now) {
			t.Errorf("RetainUntil(%v), want the run's start %v", at, now)
		}
		return until
	}
	rec, err := archive.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.RetainUntil.Equal(until) || rec.To != 700 {
		t.Fatalf("record: %+v", rec)
	}
	wantReach(t, st, g.policy, 700)
	for _, name := range []string{archive.RecordName, tiles.CheckpointPath, "tile/entries/000", "tile/0/002.p/188"} {
		head, err := srv.Client().HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if head.ObjectLockMode != types.ObjectLockModeCompliance || head.ObjectLockRetainUntilDate == nil || !head.ObjectLockRetainUntilDate.Equal(until) {
			t.Errorf("%s: lock %q until %v, want COMPLIANCE until %v", name, head.ObjectLockMode, head.ObjectLockRetainUntilDate, until)
		}
	}
	cfg.Target = newDir(t)
	if _, err := archive.Run(t.Context(), cfg); !errors.Is(err, blob.ErrNoLock) {
		t.Fatalf("a locked archive in a directory: %v, want ErrNoLock", err)
	}
}
