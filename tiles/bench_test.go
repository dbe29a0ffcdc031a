//go:build unix

package tiles_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
	"github.com/ledger-dev/ledger/tiles/tilestest"
)

// benchSize is the size of the benchmark log.
const benchSize = 1_000_000 // not a power of two: every level has a partial tile

// benchVersion names the cached benchmark log. Change it whenever tilestest
// changes what it writes, so stale caches are not reused.
const benchVersion = "v2"

var benchOnce struct {
	sync.Once
	dir string
	cp  tiles.Checkpoint
	err error
}

// benchLog returns a log of benchSize synthetic entries, generated once and
// cached in os.TempDir() across runs, and its verified checkpoint.
func benchLog(b *testing.B) (string, tiles.Checkpoint) {
	b.Helper()
	benchOnce.Do(func() {
		benchOnce.dir, benchOnce.cp, benchOnce.err = loadBenchLog()
	})
	if benchOnce.err != nil {
		b.Fatal(benchOnce.err)
	}
	return benchOnce.dir, benchOnce.cp
}

func loadBenchLog() (string, tiles.Checkpoint, error) {
	s, vkey := tilestest.NewKey("example.com/bench")
	dir := filepath.Join(os.TempDir(), "ledger-tiles-bench-"+benchVersion)
	raw, err := os.ReadFile(filepath.Join(dir, tiles.CheckpointPath))
	if err != nil {
		// Generate next to the final place and rename, so an interrupted
		// run never leaves a half-written log under the cached name.
		tmp, err := os.MkdirTemp(os.TempDir(), "ledger-tiles-bench-tmp-")
		if err != nil {
			return "", tiles.Checkpoint{}, err
		}
		if raw, err = tilestest.Generate(tmp, s, benchSize); err != nil {
			os.RemoveAll(tmp)
			return "", tiles.Checkpoint{}, err
		}
		if err := os.Rename(tmp, dir); err != nil {
			// Another run may have just put its copy in place.
			os.RemoveAll(tmp)
			if raw, err = os.ReadFile(filepath.Join(dir, tiles.CheckpointPath)); err != nil {
				return "", tiles.Checkpoint{}, err
			}
		}
	}
	p, err := tiles.NewLogPolicy(vkey)
	if err != nil {
		return "", tiles.Checkpoint{}, err
	}
	sc, err := p.Verify(raw)
	if err != nil {
		return "", tiles.Checkpoint{}, err
	}
	if sc.Size != benchSize {
		return "", tiles.Checkpoint{}, os.ErrInvalid
	}
	return dir, sc.Checkpoint, nil
}

// benchPrunedMinimum is the minimum index of the pruned benchmark log: 90%
// of its entries are pruned.
const benchPrunedMinimum = 3600 * tiles.TileWidth

// benchPrunedLog returns a copy of the benchmark log, hard-linked, pruned
// to benchPrunedMinimum with tilestest.Prune, cached beside it.
func benchPrunedLog(b *testing.B) string {
	b.Helper()
	src, _ := benchLog(b)
	dir := src + "-pruned"
	if _, err := os.Stat(filepath.Join(dir, tiles.PrunedPath)); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		return os.Link(path, filepath.Join(dir, rel))
	})
	if err == nil {
		err = tilestest.Prune(dir, tiles.Pruned{MinimumIndex: benchPrunedMinimum})
	}
	if err != nil {
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	return dir
}

// BenchmarkAuditPruned audits the 1M-entry log pruned to 90%: the pruned
// bundles cost only their level-0 tiles. leaves/s counts every leaf of the
// tree, pruned or not.
func BenchmarkAuditPruned(b *testing.B) {
	_, cp := benchLog(b)
	f := tiles.DirFetcher(benchPrunedLog(b))
	cpu0 := cpuTime(b)
	for b.Loop() {
		res, err := tiles.AuditLog(context.Background(), f, cp, tiles.AuditOptions{})
		if err != nil || res.Refused != benchPrunedMinimum {
			b.Fatal(res, err)
		}
	}
	leaves := float64(cp.Size) * float64(b.N)
	b.ReportMetric(leaves/b.Elapsed().Seconds(), "leaves/s")
	b.ReportMetric(float64(cpuTime(b)-cpu0)/leaves, "cpu-ns/leaf")
}

// BenchmarkAudit audits the whole 1M-entry log from its directory. Besides
// wall-clock throughput it reports the CPU time (user and system, all
// threads) per leaf, which does not depend on what else the machine runs:
// with GOMAXPROCS cores free, the throughput is about GOMAXPROCS/cpu-ns/leaf.
func BenchmarkAudit(b *testing.B) {
	dir, cp := benchLog(b)
	f := tiles.DirFetcher(dir)
	cpu0 := cpuTime(b)
	for b.Loop() {
		if err := tiles.Audit(context.Background(), f, cp, tiles.AuditOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	leaves := float64(cp.Size) * float64(b.N)
	b.ReportMetric(leaves/b.Elapsed().Seconds(), "leaves/s")
	b.ReportMetric(float64(cpuTime(b)-cpu0)/leaves, "cpu-ns/leaf")
}

// cpuTime returns the CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLeafHash hashes a typical 250-byte entry.
func BenchmarkLeafHash(b *testing.B) {
	e := tilestest.Entry(3)
	for b.Loop() {
		tiles.LeafHash(e)
	}
}

// BenchmarkNodeHash hashes two children.
func BenchmarkNodeHash(b *testing.B) {
	var l, r tiles.Hash
	for b.Loop() {
		l = tiles.NodeHash(l, r)
	}
}

// BenchmarkVerifyInclusion verifies inclusion proofs of random leaves in the
// tree of size 1M; the proofs are built beforehand.
func BenchmarkVerifyInclusion(b *testing.B) {
	dir, cp := benchLog(b)
	ctx := context.Background()
	tree := tiles.NewTree(tiles.DirFetcher(dir), cp)
	type job struct {
		index uint64
		leaf  tiles.Hash
		proof []tiles.Hash
	}
	rng := rand.New(rand.NewPCG(1, 2))
	jobs := make([]job, 256)
	for i := range jobs {
		j := &jobs[i]
		j.index = rng.Uint64N(cp.Size)
		var err error
		if j.leaf, err = tree.LeafHash(ctx, j.index); err != nil {
			b.Fatal(err)
		}
		if j.proof, err = tree.InclusionProof(ctx, j.index, j.leaf); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		j := &jobs[i%len(jobs)]
		if err := tiles.VerifyInclusion(j.leaf, j.index, cp.Size, j.proof, cp.Hash); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// countingReader reads raw hash tiles from a directory, counting the reads.
type countingReader struct {
	f     tiles.Fetcher
	reads atomic.Int64
}

func (c *countingReader) ReadTile(ctx context.Context, t tiles.Tile) ([]tiles.Hash, error) {
	c.reads.Add(1)
	raw, err := tiles.FetchTile(ctx, c.f, t)
	if err != nil {
		return nil, err
	}
	return tiles.ParseHashTile(raw, t.Width)
}

// countingFetcher counts the resources fetched through it.
type countingFetcher struct {
	tiles.Fetcher
	fetches atomic.Int64
}

func (c *countingFetcher) Fetch(ctx context.Context, path string) ([]byte, error) {
	c.fetches.Add(1)
	return c.Fetcher.Fetch(ctx, path)
}

// BenchmarkInclusionProofFromTiles builds inclusion proofs of random leaves
// in the tree of size 1M from the tiles on disk, and reports how many tiles
// each proof reads: from a plain TileReader (the tiles the proof's nodes are
// in), and through a fresh Tree, which also fetches the parent tiles and the
// right-edge tiles that authenticate them.
func BenchmarkInclusionProofFromTiles(b *testing.B) {
	dir, cp := benchLog(b)
	ctx := context.Background()

	b.Run("TileReader", func(b *testing.B) {
		r := &countingReader{f: tiles.DirFetcher(dir)}
		rng := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			if _, err := tiles.InclusionProof(ctx, r, rng.Uint64N(cp.Size), cp.Size); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(r.reads.Load())/float64(b.N), "tiles/proof")
	})

	b.Run("Tree", func(b *testing.B) {
		f := &countingFetcher{Fetcher: tiles.DirFetcher(dir)}
		rng := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			tree := tiles.NewTree(f, cp)
			index := rng.Uint64N(cp.Size)
			leaf, err := tree.LeafHash(ctx, index)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tree.InclusionProof(ctx, index, leaf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(f.fetches.Load())/float64(b.N), "tiles/proof")
	})
}
