package tiles_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
	"github.com/ledger-dev/ledger/tiles/tilestest"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/fsck"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
)

// Interop with transparency-dev/tessera, another implementation of
// tlog-tiles: a log tessera's POSIX driver writes must verify, audit and
// prove with this package, and a log tilestest writes must check out with
// tessera's client and fsck.

const (
	interopMid  = 40_001  // the intermediate checkpoint's size
	interopSize = 100_003 // 390 full bundles + 163; level 1: 1 full + .p/134; level 2: .p/1
)

// tesseraLog is a log written by tessera's POSIX driver.
type tesseraLog struct {
	dir    string
	policy *tiles.Policy
	vkey   string
	mid    []byte // the checkpoint published at size interopMid
	final  []byte // the checkpoint published at size interopSize
}

func init() {
	// tessera and fsck log with klog; keep test output readable.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
}

// writeTesseraLog appends tilestest.Entry(0..interopSize-1) to a new tessera
// POSIX log in dir, in two phases, saving the checkpoint published at the
// end of each. Garbage collection is off, so the partial tiles and bundles
// of every batch stay, as for a log that serves old checkpoints.
func writeTesseraLog(t *testing.T, dir string) *tesseraLog {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	skey, vkey, err := note.GenerateKey(crand.Reader, "example.com/tessera-interop")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		t.Fatal(err)
	}
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithCheckpointInterval(100*time.Millisecond).
		WithBatching(4096, 50*time.Millisecond).
		WithPushback(1<<20).
		WithGarbageCollectionInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	l := &tesseraLog{dir: dir, policy: policy, vkey: vkey}
	// appendUpTo adds entries until the log has size entries, waits for
	// every one to be integrated at the index expected, then for a
	// checkpoint of exactly that size.
	appendUpTo := func(from, size uint64) []byte {
		futures := make([]tessera.IndexFuture, 0, size-from)
		for i := from; i < size; i++ {
			futures = append(futures, appender.Add(ctx, tessera.NewEntry(tilestest.Entry(i))))
		}
		for i, f := range futures {
			idx, err := f()
			if err != nil {
				t.Fatalf("entry %d: %v", from+uint64(i), err)
			}
			if idx.Index != from+uint64(i) || idx.IsDup {
				t.Fatalf("entry %d got index %+v", from+uint64(i), idx)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			raw, err := reader.ReadCheckpoint(ctx)
			if err == nil {
				sc, err := policy.Verify(raw)
				if err != nil {
					t.Fatalf("tessera checkpoint does not verify: %v\n%s", err, raw)
				}
				if sc.Size == size {
					return raw
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint of size %d after 30s", size)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	l.mid = appendUpTo(0, interopMid)
	l.final = appendUpTo(interopMid, interopSize)
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestTesseraInterop(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	l := writeTesseraLog(t, t.TempDir())
	t.Logf("tessera wrote %d entries in %v", interopSize, time.Since(start))
	f := tiles.DirFetcher(l.dir)

	mid, err := l.policy.Verify(l.mid)
	if err != nil {
		t.Fatal(err)
	}
	final, err := l.policy.Verify(l.final)
	if err != nil {
		t.Fatal(err)
	}
	if final.Size != interopSize || mid.Size != interopMid || final.Origin != "example.com/tessera-interop" {
		t.Fatalf("checkpoints %+v and %+v", mid.Checkpoint, final.Checkpoint)
	}
	cpFile, err := os.ReadFile(filepath.Join(l.dir, tiles.CheckpointPath))
	if err != nil || !bytes.Equal(cpFile, l.final) {
		t.Fatalf("checkpoint file is not the final checkpoint: %v", err)
	}

	t.Run("Audit", func(t *testing.T) {
		// The old checkpoint too: its partial tiles are still served.
		for _, cp := range []tiles.Checkpoint{mid.Checkpoint, final.Checkpoint} {
			if err := tiles.Audit(ctx, f, cp, tiles.AuditOptions{}); err != nil {
				t.Fatalf("size %d: %v", cp.Size, err)
			}
		}
	})

	t.Run("Inclusion", func(t *testing.T) {
		tree := tiles.NewTree(f, final.Checkpoint)
		pb, err := client.NewProofBuilder(ctx, interopSize, client.FileFetcher{Root: l.dir}.ReadTile)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(5, 6))
		indexes := []uint64{0, 255, 256, interopMid - 1, interopMid, interopSize - 1}
		for range 200 {
			indexes = append(indexes, rng.Uint64N(interopSize))
		}
		for _, i := range indexes {
			e, err := tree.Entry(ctx, i)
			if err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
			if !bytes.Equal(e, tilestest.Entry(i)) {
				t.Fatalf("entry %d is %q, want %q", i, e, tilestest.Entry(i))
			}
			p, err := tree.InclusionProof(ctx, i, tiles.LeafHash(e))
			if err != nil {
				t.Fatalf("inclusion of %d: %v", i, err)
			}
			// tessera builds the same proof from the same tiles.
			want, err := pb.InclusionProof(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if !sameProof(p, want) {
				t.Fatalf("inclusion proof of %d differs from tessera's", i)
			}
		}
	})

	t.Run("Consistency", func(t *testing.T) {
		tree := tiles.NewTree(f, final.Checkpoint)
		p, err := tree.ProveConsistency(ctx, mid.Checkpoint)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := client.NewProofBuilder(ctx, interopSize, client.FileFetcher{Root: l.dir}.ReadTile)
		if err != nil {
			t.Fatal(err)
		}
		want, err := pb.ConsistencyProof(ctx, interopMid, interopSize)
		if err != nil {
			t.Fatal(err)
		}
		if !sameProof(p, want) {
			t.Fatal("consistency proof differs from tessera's")
		}
		forked := mid.Checkpoint
		forked.Hash[5] ^= 1
		if _, err := tree.ProveConsistency(ctx, forked); !errors.Is(err, tiles.ErrProof) {
			t.Errorf("consistency with a forked old root: got %v, want ErrProof", err)
		}
	})

	t.Run("TamperCheckpoint", func(t *testing.T) {
		tamperCheckpoint(t, l.policy, l.final)
	})

	t.Run("TamperTiles", func(t *testing.T) {
		// A deterministic sample of positions in every kind of file the
		// final tree is made of; stale partials are not part of it.
		byKind := map[string][]string{}
		for _, p := range tilestest.Files(interopSize) {
			if p != tiles.CheckpointPath {
				byKind[fileKind(p)] = append(byKind[fileKind(p)], p)
			}
		}
		kinds := make([]string, 0, len(byKind))
		for k := range byKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		if len(kinds) != 7 {
			t.Fatalf("the tree of size %d has file kinds %v, want 7", interopSize, kinds)
		}
		rng := rand.New(rand.NewPCG(7, 8))
		checked := 0
		start := time.Now()
		for _, kind := range kinds {
			paths := byKind[kind]
			for k := range 30 {
				p := paths[rng.IntN(len(paths))]
				name := filepath.Join(l.dir, filepath.FromSlash(p))
				b, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				off := rng.IntN(len(b))
				switch k { // always try both ends of a file
				case 0:
					off = 0
				case 1:
					off = len(b) - 1
				}
				x := byte(1 + rng.IntN(255))
				b[off] ^= x
				if err := os.WriteFile(name, b, 0o644); err != nil {
					t.Fatal(err)
				}
				err = tiles.Audit(ctx, f, final.Checkpoint, tiles.AuditOptions{})
				b[off] ^= x
				if werr := os.WriteFile(name, b, 0o644); werr != nil {
					t.Fatal(werr)
				}
				if !errors.Is(err, tiles.ErrTampered) {
					t.Fatalf("%s byte %d ^ %#02x: Audit returned %v, want ErrTampered", p, off, x, err)
				}
				checked++
			}
		}
		t.Logf("%d single-byte changes in %d kinds of file all caught, in %v", checked, len(kinds), time.Since(start))
		if err := tiles.Audit(ctx, f, final.Checkpoint, tiles.AuditOptions{}); err != nil {
			t.Fatalf("after restoring: %v", err)
		}
	})
}

// fileKind classifies a tlog-tiles path: bundle or tile level, full or partial.
func fileKind(p string) string {
	t, err := tiles.ParsePath(p)
	if err != nil {
		panic(err)
	}
	kind := fmt.Sprintf("tile/%d", t.Level)
	if t.Entries {
		kind = "entries"
	}
	if t.Full() {
		return kind + " full"
	}
	return kind + " partial"
}

func sameProof(a []tiles.Hash, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i][:], b[i]) {
			return false
		}
	}
	return true
}

// tamperCheckpoint flips every byte of a signed checkpoint, one at a time
// and in two ways, and requires the policy to reject each.
func tamperCheckpoint(t *testing.T, p *tiles.Policy, signed []byte) {
	t.Helper()
	if _, err := p.Verify(signed); err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(signed)
	for i := range b {
		for _, x := range []byte{0x01, 0x80} {
			b[i] ^= x
			if sc, err := p.Verify(b); err == nil {
				t.Fatalf("checkpoint byte %d ^ %#02x still verifies: %+v", i, x, sc.Checkpoint)
			}
			b[i] ^= x
		}
	}
}

// memFetcher serves a log from memory, so that a test can change bytes
// without touching the disk.
type memFetcher map[string][]byte

func (m memFetcher) Fetch(_ context.Context, path string) ([]byte, error) {
	b, ok := m[path]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, tiles.ErrNotFound)
	}
	return b, nil
}

// TestTamperExhaustive changes every byte of every file of a small log, one
// at a time, and requires Audit (or, for the checkpoint, the policy) to
// notice every change.
func TestTamperExhaustive(t *testing.T) {
	ctx := context.Background()
	s, vkey := tilestest.NewKey("example.com/exhaustive")
	dir := t.TempDir()
	l := tilestest.New(dir, s)
	// Grow in steps so stale partials exist, as in a real log. Small
	// entries keep the bundles, and so the run time, small.
	entry := func(i uint64) []byte { return tilestest.Entry(i)[:8+i%24] }
	for _, n := range []uint64{100, 300, 700} {
		if _, err := l.AppendFunc(n-l.Size(), entry); err != nil {
			t.Fatal(err)
		}
	}
	policy, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := policy.Verify(l.Checkpoint())
	if err != nil {
		t.Fatal(err)
	}
	tamperCheckpoint(t, policy, l.Checkpoint())

	files := tilestest.Files(l.Size())
	m := memFetcher{}
	for _, p := range files {
		if m[p], err = os.ReadFile(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tiles.Audit(ctx, m, sc.Checkpoint, tiles.AuditOptions{}); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, p := range files {
		if p == tiles.CheckpointPath {
			continue
		}
		b := m[p]
		for i := range b {
			b[i] ^= 0x01
			err := tiles.Audit(ctx, m, sc.Checkpoint, tiles.AuditOptions{Workers: 1})
			b[i] ^= 0x01
			if !errors.Is(err, tiles.ErrTampered) {
				t.Fatalf("%s byte %d: Audit returned %v, want ErrTampered", p, i, err)
			}
			checked++
		}
	}
	t.Logf("%d single-byte changes in %d files all caught", checked, len(files)-1)
	if err := tiles.Audit(ctx, m, sc.Checkpoint, tiles.AuditOptions{}); err != nil {
		t.Fatalf("after restoring: %v", err)
	}
}

// TestTesseraVerifiesTilestest has tessera's client and fsck check a log
// written by tilestest.
func TestTesseraVerifiesTilestest(t *testing.T) {
	ctx := context.Background()
	s, vkey := tilestest.NewKey("example.com/tilestest-interop")
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l := tilestest.New(dir, s)
	const midSize, size = 30_001, 70_000
	if _, err := l.AppendFunc(midSize, tilestest.Entry); err != nil {
		t.Fatal(err)
	}
	midRoot := l.Root()
	if _, err := l.AppendFunc(size-midSize, tilestest.Entry); err != nil {
		t.Fatal(err)
	}
	ff := client.FileFetcher{Root: dir}

	cp, _, _, err := client.FetchCheckpoint(ctx, ff.ReadCheckpoint, v, l.Origin())
	if err != nil {
		t.Fatal(err)
	}
	if root := l.Root(); cp.Size != size || !bytes.Equal(cp.Hash, root[:]) {
		t.Fatalf("tessera read checkpoint %d %x", cp.Size, cp.Hash)
	}

	// The compact range of the whole tree, from tiles, gives the root.
	nodes, err := client.FetchRangeNodes(ctx, size, ff.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	rng, err := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewRange(0, size, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if root, err := rng.GetRootHash(nil); err != nil || !bytes.Equal(root, cp.Hash) {
		t.Fatalf("root from tessera's range nodes: %x, %v", root, err)
	}

	pb, err := client.NewProofBuilder(ctx, size, ff.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, i := range []uint64{0, 1, 255, 256, midSize, size - 1, r.Uint64N(size), r.Uint64N(size), r.Uint64N(size)} {
		bundle, err := client.GetEntryBundle(ctx, ff.ReadEntryBundle, i/tiles.TileWidth, size)
		if err != nil {
			t.Fatal(err)
		}
		e := bundle.Entries[i%tiles.TileWidth]
		if !bytes.Equal(e, tilestest.Entry(i)) {
			t.Fatalf("tessera read entry %d as %q", i, e)
		}
		p, err := pb.InclusionProof(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, rfc6962.DefaultHasher.HashLeaf(e), p, cp.Hash); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
	}
	p, err := pb.ConsistencyProof(ctx, midSize, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, midSize, size, p, midRoot[:], cp.Hash); err != nil {
		t.Fatalf("consistency %d → %d: %v", midSize, size, err)
	}

	// fsck re-derives every tile and the root from the bundles.
	if err := fsck.New(l.Origin(), v, ff, tilestest.LeafHashes, fsck.Opts{N: 2}).Check(ctx); err != nil {
		t.Fatalf("tessera fsck: %v", err)
	}
	// and notices a changed byte.
	name := filepath.Join(dir, "tile", "0", "100")
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b[77] ^= 1
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fsck.New(l.Origin(), v, ff, tilestest.LeafHashes, fsck.Opts{N: 2}).Check(ctx); err == nil {
		t.Fatal("tessera fsck passed a log with a changed tile")
	}
}
