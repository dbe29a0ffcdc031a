package tiles_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
	"github.com/ledger-dev/ledger/tiles/tilestest"
	"github.com/transparency-dev/merkle/rfc6962"
)

// auditLog writes a log of size synthetic entries to a temporary directory
// and returns the directory and its verified checkpoint.
func auditLog(t testing.TB, size uint64) (string, tiles.Checkpoint) {
	t.Helper()
	s, vkey := tilestest.NewKey("example.com/audit")
	dir := t.TempDir()
	raw, err := tilestest.Generate(dir, s, size)
	if err != nil {
		t.Fatal(err)
	}
	return dir, auditVerify(t, vkey, raw)
}

func auditVerify(t testing.TB, vkey string, raw []byte) tiles.Checkpoint {
	t.Helper()
	p, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := p.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	return sc.Checkpoint
}

func TestAuditSizes(t *testing.T) {
	for _, size := range []uint64{0, 1, 255, 256, 257, 65536, 65537, 100_003} {
		dir, cp := auditLog(t, size)
		for _, workers := range []int{0, 1, 3} {
			var mu sync.Mutex
			var calls []uint64
			err := tiles.Audit(context.Background(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{
				Workers: workers,
				Progress: func(n uint64) {
					mu.Lock()
					calls = append(calls, n)
					mu.Unlock()
				},
			})
			if err != nil {
				t.Fatalf("size %d, %d workers: %v", size, workers, err)
			}
			// One call per bundle, strictly increasing, ending at the size.
			if uint64(len(calls)) != tiles.BundleCount(size) {
				t.Errorf("size %d: %d progress calls, want %d", size, len(calls), tiles.BundleCount(size))
			}
			for i := 1; i < len(calls); i++ {
				if calls[i] <= calls[i-1] {
					t.Fatalf("size %d: progress went from %d to %d", size, calls[i-1], calls[i])
				}
			}
			if size > 0 && calls[len(calls)-1] != size {
				t.Errorf("size %d: progress ended at %d", size, calls[len(calls)-1])
			}
		}
	}
}

// TestAuditWrongCheckpoint audits a correct log against checkpoints that do
// not describe it.
func TestAuditWrongCheckpoint(t *testing.T) {
	dir, cp := auditLog(t, 1000)
	f := tiles.DirFetcher(dir)
	wrongRoot := cp
	wrongRoot.Hash[0] ^= 1
	if err := tiles.Audit(context.Background(), f, wrongRoot, tiles.AuditOptions{}); !errors.Is(err, tiles.ErrTampered) {
		t.Errorf("wrong root: got %v, want ErrTampered", err)
	}
	// A size the log never published has partial tiles that do not exist.
	bigger := cp
	bigger.Size++
	if err := tiles.Audit(context.Background(), f, bigger, tiles.AuditOptions{}); !errors.Is(err, tiles.ErrNotFound) {
		t.Errorf("unpublished size: got %v, want ErrNotFound", err)
	}
}

// TestAuditMissingFiles removes, one at a time, each kind of file a tree of
// 65536+300 leaves is made of. Audit must return ErrNotFound, not panic or
// hang, including when the missing file is early in a long log and many
// bundles are in flight.
func TestAuditMissingFiles(t *testing.T) {
	const size = 65536 + 300
	dir, cp := auditLog(t, size)
	for _, p := range []string{
		"tile/entries/000",
		"tile/entries/100",
		"tile/entries/257.p/44",
		"tile/0/000",
		"tile/0/255",
		"tile/0/257.p/44",
		"tile/1/000",
		"tile/1/001.p/1",
		"tile/2/000.p/1",
	} {
		t.Run(p, func(t *testing.T) {
			name := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.Rename(name, name+".away"); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := os.Rename(name+".away", name); err != nil {
					t.Fatal(err)
				}
			}()
			done := make(chan error, 1)
			go func() {
				done <- tiles.Audit(context.Background(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{Workers: 2})
			}()
			select {
			case err := <-done:
				if !errors.Is(err, tiles.ErrNotFound) {
					t.Errorf("got %v, want ErrNotFound", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Audit did not return")
			}
		})
	}
	if err := tiles.Audit(context.Background(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{}); err != nil {
		t.Fatalf("after restoring every file: %v", err)
	}
}

// TestAuditTampered changes one byte in each kind of file.
func TestAuditTampered(t *testing.T) {
	const size = 65536 + 300
	dir, cp := auditLog(t, size)
	for _, c := range []struct {
		path string
		off  int
	}{
		{"tile/entries/000", 0},  // a length prefix
		{"tile/entries/000", 5},  // inside the first entry
		{"tile/entries/255", -1}, // the last byte of a full bundle
		{"tile/entries/257.p/44", -1},
		{"tile/0/000", 0},
		{"tile/0/100", 8191},
		{"tile/0/257.p/44", 1000},
		{"tile/1/000", 4096},
		{"tile/1/001.p/1", 31},
		{"tile/2/000.p/1", 0},
	} {
		name := filepath.Join(dir, filepath.FromSlash(c.path))
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		off := c.off
		if off < 0 {
			off += len(b)
		}
		b[off] ^= 0x20
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		err = tiles.Audit(context.Background(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{})
		if !errors.Is(err, tiles.ErrTampered) {
			t.Errorf("%s byte %d: got %v, want ErrTampered", c.path, off, err)
		}
		b[off] ^= 0x20
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := tiles.Audit(context.Background(), tiles.DirFetcher(dir), cp, tiles.AuditOptions{}); err != nil {
		t.Fatalf("after restoring every byte: %v", err)
	}
}

// TestAuditPartialFallback audits an old checkpoint after its partial tiles
// and bundles were deleted, as a log may once the full ones exist: Audit must
// fall back to the full tiles, and still catch a bad full tile.
func TestAuditPartialFallback(t *testing.T) {
	s, vkey := tilestest.NewKey("example.com/fallback")
	dir := t.TempDir()
	l := tilestest.New(dir, s)
	raw, err := l.AppendFunc(300, tilestest.Entry) // bundle 1 is .p/44, tile/1/000 is .p/1
	if err != nil {
		t.Fatal(err)
	}
	old := auditVerify(t, vkey, raw)
	if _, err := l.AppendFunc(70000-300, tilestest.Entry); err != nil {
		t.Fatal(err)
	}
	partials := []string{"tile/entries/001.p/44", "tile/0/001.p/44", "tile/1/000.p/1"}
	for _, p := range partials {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			t.Fatal(err)
		}
	}
	f := tiles.DirFetcher(dir)
	if err := tiles.Audit(context.Background(), f, old, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit of size 300 from full tiles: %v", err)
	}

	// The fallback reads a prefix of the full tile: tampering inside the
	// prefix is caught, beyond it is irrelevant to the old tree.
	name := filepath.Join(dir, "tile", "0", "001")
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off     int
		tampers bool
	}{{43*32 + 5, true}, {44*32 + 5, false}} {
		b[c.off] ^= 1
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		err := tiles.Audit(context.Background(), f, old, tiles.AuditOptions{})
		if c.tampers && !errors.Is(err, tiles.ErrTampered) {
			t.Errorf("byte %d of the full tile changed: got %v, want ErrTampered", c.off, err)
		}
		if !c.tampers && err != nil {
			t.Errorf("byte %d of the full tile, beyond the old tree, changed: %v", c.off, err)
		}
		b[c.off] ^= 1
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// With neither the partial nor the full tile, the partial is reported missing.
	if err := os.Rename(name, name+".away"); err != nil {
		t.Fatal(err)
	}
	err = tiles.Audit(context.Background(), f, old, tiles.AuditOptions{})
	if !errors.Is(err, tiles.ErrNotFound) {
		t.Errorf("no partial and no full tile: got %v, want ErrNotFound", err)
	}
	if err := os.Rename(name+".away", name); err != nil {
		t.Fatal(err)
	}
}

// blockingFetcher serves a directory but blocks every fetch after the first
// n until the context is done, like a stalled network.
type blockingFetcher struct {
	tiles.Fetcher
	mu sync.Mutex
	n  int
}

func (b *blockingFetcher) Fetch(ctx context.Context, path string) ([]byte, error) {
	b.mu.Lock()
	b.n--
	stall := b.n < 0
	b.mu.Unlock()
	if stall {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return b.Fetcher.Fetch(ctx, path)
}

func TestAuditCancel(t *testing.T) {
	dir, cp := auditLog(t, 65537)

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := tiles.Audit(ctx, tiles.DirFetcher(dir), cp, tiles.AuditOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})

	t.Run("from progress", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var last uint64
		err := tiles.Audit(ctx, tiles.DirFetcher(dir), cp, tiles.AuditOptions{Progress: func(n uint64) {
			last = n
			if n >= 10*tiles.TileWidth {
				cancel()
			}
		}})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if last >= cp.Size {
			t.Errorf("audit went on to %d leaves after being cancelled", last)
		}
	})

	t.Run("stalled fetcher", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		f := &blockingFetcher{Fetcher: tiles.DirFetcher(dir), n: 50}
		err := tiles.Audit(ctx, f, cp, tiles.AuditOptions{Workers: 4})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Audit took %v to notice the deadline", d)
		}
	})
}

// TestHashMatchesRFC6962 checks the allocation-free LeafHash and NodeHash
// against the merkle package's RFC 6962 hasher, on both sides of LeafHash's
// stack-buffer size, and against the published known answers.
func TestHashMatchesRFC6962(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 31, 32, 33, 63, 64, 65, 250, 400, 1022, 1023, 1024, 1025, 4096, 65535, 70000} {
		e := make([]byte, n)
		for i := range e {
			e[i] = byte(rng.Uint32())
		}
		if got, want := tiles.LeafHash(e), rfc6962.DefaultHasher.HashLeaf(e); !bytes.Equal(got[:], want) {
			t.Errorf("LeafHash of %d bytes = %x, rfc6962 says %x", n, got, want)
		}
	}
	for range 100 {
		var l, r tiles.Hash
		for i := range l {
			l[i], r[i] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		if got, want := tiles.NodeHash(l, r), rfc6962.DefaultHasher.HashChildren(l[:], r[:]); !bytes.Equal(got[:], want) {
			t.Fatalf("NodeHash(%x, %x) = %x, rfc6962 says %x", l, r, got, want)
		}
	}
	// merkle rfc6962_test.go known answers.
	for _, c := range []struct {
		got  tiles.Hash
		want string
	}{
		{tiles.LeafHash(nil), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
		{tiles.LeafHash([]byte("L123456")), "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"},
		{tiles.EmptyRoot, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	} {
		if hex.EncodeToString(c.got[:]) != c.want {
			t.Errorf("got %x, want %s", c.got, c.want)
		}
	}
	// HashChildren("N123", "N456") hashes 0x01‖"N123"‖"N456": not 32-byte
	// children, so it checks the rfc6962 side of this test's comparison.
	if got := hex.EncodeToString(rfc6962.DefaultHasher.HashChildren([]byte("N123"), []byte("N456"))); got != "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb" {
		t.Errorf("rfc6962 HashChildren known answer: got %s", got)
	}
	if n := testing.AllocsPerRun(100, func() { tiles.NodeHash(tiles.Hash{}, tiles.Hash{}) }); n != 0 {
		t.Errorf("NodeHash allocates %v times", n)
	}
	e := tilestest.Entry(7)
	if n := testing.AllocsPerRun(100, func() { tiles.LeafHash(e) }); n != 0 {
		t.Errorf("LeafHash of %d bytes allocates %v times", len(e), n)
	}
}
