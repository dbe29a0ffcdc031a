package bucket_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/s3test"
	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
	"github.com/ledger-dev/ledger/ledger/mirror"
	"github.com/ledger-dev/ledger/ledger/storage/bucket"
	"github.com/ledger-dev/ledger/ledger/storage/postgres"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens the driver over objects and the database dsn, closed when
// the test ends.
func open(t *testing.T, objects blob.Store, dsn string) *bucket.Storage {
	t.Helper()
	db, err := postgres.Open(t.Context(), postgres.Config{DSN: dsn, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := bucket.New(bucket.Config{Objects: objects, DB: db, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the storage contract over real S3 (versitygw) and a
// real PostgreSQL.
func TestContract(t *testing.T) {
	srv := s3test.Start(t)
	var n atomic.Int32
	storagetest.Run(t, func(t *testing.T) storagetest.Opener {
		dsn := pgtest.New(t)
		objects, err := s3.Open(t.Context(), srv.Bucket(t, fmt.Sprintf("log-%d", n.Add(1)), s3test.BucketOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		return func(t *testing.T) ledger.Storage { return open(t, objects, dsn) }
	})
}

// TestContractDir runs the contract with the objects in a directory.
func TestContractDir(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Opener {
		dsn := pgtest.New(t)
		objects, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return func(t *testing.T) ledger.Storage { return open(t, objects, dsn) }
	})
}

// TestBucketIsReadEndpoint checks that the bucket, read over plain HTTP
// by the verifying client, is the log's tlog-tiles endpoint, with the
// spec's content types and cache headers.
func TestBucketIsReadEndpoint(t *testing.T) {
	srv := s3test.Start(t)
	objects, err := s3.Open(t.Context(), srv.Bucket(t, "public", s3test.BucketOptions{PublicRead: true}))
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, objects, pgtest.New(t))
	signer, vkey := storagetest.NewSigner(t, "example.com/bucket")
	l := storagetest.NewLedger(t, s, nil, signer)
	var batch []ledger.Entry
	for i := range 1000 {
		batch = append(batch, ledger.Entry{Leaf: fmt.Appendf(nil, "entry %d", i)})
	}
	if _, err := l.Append(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	fetch, err := tiles.NewHTTPFetcher(srv.URL("public"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := fetch.Fetch(t.Context(), tiles.CheckpointPath)
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := tiles.NewLogPolicy(vkey)
	sc, err := policy.Verify(raw)
	if err != nil || sc.Size != 1000 {
		t.Fatalf("bucket checkpoint: size %v, %v", sc, err)
	}
	if err := tiles.Audit(t.Context(), fetch, sc.Checkpoint, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit over the bucket's HTTP endpoint: %v", err)
	}
	for path, want := range map[string][2]string{
		"checkpoint":             {"text/plain; charset=utf-8", "no-cache"},
		"tile/0/000":             {"application/octet-stream", "public, max-age=31536000, immutable"},
		"tile/0/003.p/232":       {"application/octet-stream", "public, max-age=31536000, immutable"},
		"tile/entries/000":       {"application/octet-stream", "public, max-age=31536000, immutable"},
		"tile/entries/003.p/232": {"application/octet-stream", "public, max-age=31536000, immutable"},
	} {
		typ, cache := headers(t, srv.URL("public")+path)
		if typ != want[0] || cache != want[1] {
			t.Errorf("%s: Content-Type %q, Cache-Control %q; want %q, %q", path, typ, cache, want[0], want[1])
		}
	}
}

// TestGarbageReplaced leaves in the store what a flush that died before
// its commit left (tiles beyond the committed tree, with other bytes), and
// checks that the next flush replaces them, while a committed tile is
// never replaced.
func TestGarbageReplaced(t *testing.T) {
	objects, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.New(t)
	s := open(t, objects, dsn)
	signer, vkey := storagetest.NewSigner(t, "example.com/garbage")
	l := storagetest.NewLedger(t, s, nil, signer)
	var want [][]byte
	add := func(n int) {
		var batch []ledger.Entry
		for range n {
			leaf := fmt.Appendf(nil, "entry %d", len(want))
			batch = append(batch, ledger.Entry{Leaf: leaf})
			want = append(want, leaf)
		}
		if _, err := l.Append(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	add(300)
	committed, err := objects.Get(t.Context(), "tile/0/000")
	if err != nil {
		t.Fatal(err)
	}
	// A dead flush of 20 entries would have written these.
	for _, p := range []string{"tile/0/001.p/64", "tile/entries/001.p/64"} {
		if err := objects.Put(t.Context(), p, []byte("garbage of a dead flush"), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	add(20)
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"tile/0/001.p/64", "tile/entries/001.p/64"} {
		if b, _ := objects.Get(t.Context(), p); bytes.Contains(b, []byte("garbage")) {
			t.Errorf("%s still holds the dead flush's bytes", p)
		}
	}
	if b, _ := objects.Get(t.Context(), "tile/0/000"); !bytes.Equal(b, committed) {
		t.Error("a committed full tile changed")
	}
	storagetest.AuditStore(t, s, vkey, want)
}

// TestConflictWritesNothing checks that a flush from a stale state (another
// writer committed first) writes no object: the compare-and-swap comes
// before the tiles.
func TestConflictWritesNothing(t *testing.T) {
	objects, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, objects, pgtest.New(t))
	signer, _ := storagetest.NewSigner(t, "example.com/conflict")
	l := storagetest.NewLedger(t, s, nil, signer)
	if _, err := l.Append(t.Context(), []ledger.Entry{{Leaf: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	l.Close(t.Context())
	var before []string
	objects.List(t.Context(), "", func(n string) error { before = append(before, n); return nil })
	stale := &ledger.Flush{Old: ledger.State{Size: 0, Root: tiles.EmptyRoot},
		New:   ledger.State{Size: 1, Root: tiles.LeafHash([]byte("b")), Checkpoint: []byte("x\n")},
		Tiles: map[tiles.Tile][]byte{{Width: 1}: tiles.MarshalHashTile([]tiles.Hash{tiles.LeafHash([]byte("b"))}), {Width: 1, Entries: true}: []byte("\x00\x01b")}}
	if err := s.Commit(t.Context(), stale); !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("stale commit: %v, want ErrConflict", err)
	}
	var after []string
	objects.List(t.Context(), "", func(n string) error { after = append(after, n); return nil })
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("a refused commit changed the objects: %q -> %q", before, after)
	}
	if b, _ := objects.Get(t.Context(), "tile/0/000.p/1"); bytes.Equal(b, stale.Tiles[tiles.Tile{Width: 1}]) {
		t.Fatal("a refused commit overwrote a committed tile")
	}
}

// headers returns the Content-Type and Cache-Control of an unsigned GET.
func headers(t *testing.T, url string) (string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control")
}

// TestPartialsCollected appends in small flushes across several bundles
// and checks that the partial tiles and bundles that full ones replaced
// are deleted, those of the tree's right edge kept, and the log still
// audits (also at an older checkpoint, whose partial tiles are gone: the
// verifying client falls back to the full ones).
func TestPartialsCollected(t *testing.T) {
	objects, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, objects, pgtest.New(t))
	signer, vkey := storagetest.NewSigner(t, "example.com/gc")
	l, err := ledger.New(t.Context(), ledger.Config{Storage: s, Signer: signer, KeyOf: storagetest.KeyBeforeBar,
		PublishInterval: 5 * time.Millisecond, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	var early []byte // a checkpoint from inside the first bundle
	for len(want) < 600 {
		var batch []ledger.Entry
		for range 20 {
			leaf := fmt.Appendf(nil, "entry %d", len(want))
			batch = append(batch, ledger.Entry{Leaf: leaf})
			want = append(want, leaf)
		}
		if _, err := l.Append(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitPublished(t.Context(), uint64(len(want))); err != nil {
			t.Fatal(err)
		}
		if len(want) == 100 {
			early, _ = l.Published()
		}
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	partials := func(prefix string) []string {
		var names []string
		objects.List(t.Context(), prefix, func(n string) error { names = append(names, n); return nil })
		return names
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(partials("tile/entries/000.p/"))+len(partials("tile/entries/001.p/"))+len(partials("tile/0/000.p/"))+len(partials("tile/0/001.p/")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("superseded partials left: %q %q", partials("tile/entries/000.p/"), partials("tile/0/001.p/"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := partials("tile/entries/002.p/"); len(got) == 0 {
		t.Fatal("the right edge's partial bundles were deleted")
	}
	storagetest.AuditStore(t, s, vkey, want)
	policy, _ := tiles.NewLogPolicy(vkey)
	sc, err := policy.Verify(early)
	if err != nil {
		t.Fatal(err)
	}
	if err := tiles.Audit(t.Context(), mirror.Fetcher(objects), sc.Checkpoint, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit at size %d, its partial tiles deleted: %v", sc.Size, err)
	}
}

// TestPrunerContract runs the pruner contract over real S3 and
// PostgreSQL. A torn prune is the minimum index recorded in the database
// (by the database's own Prune, as the driver's first step) and no object
// deleted.
func TestPrunerContract(t *testing.T) {
	srv := s3test.Start(t)
	var n atomic.Int32
	storagetest.RunPruner(t, func(t *testing.T) storagetest.PrunerStore {
		dsn := pgtest.New(t)
		objects, err := s3.Open(t.Context(), srv.Bucket(t, fmt.Sprintf("prune-%d", n.Add(1)), s3test.BucketOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		return storagetest.PrunerStore{
			Open: func(t *testing.T) ledger.Storage { return open(t, objects, dsn) },
			Stored: func(t *testing.T, tl tiles.Tile) bool {
				_, err := objects.Get(t.Context(), tl.Path())
				if err != nil && !errors.Is(err, blob.ErrNotExist) {
					t.Fatal(err)
				}
				return err == nil
			},
			Tear: func(t *testing.T, p tiles.Pruned) {
				db, err := postgres.Open(t.Context(), postgres.Config{DSN: dsn, Logger: testlog.New(t)})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if err := db.Prune(t.Context(), p); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}
