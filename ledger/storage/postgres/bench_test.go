package postgres

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

// benchEntries returns n entries of about 400 bytes, shaped like audit
// events (storagetest.BenchLeaf), so that PostgreSQL's compression of the
// bundles gets realistic input.
func benchEntries(rng *rand.Rand, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = storagetest.BenchLeaf(rng, i)
	}
	return out
}

// BenchmarkCommit measures the driver alone: one Commit per iteration, each
// a flush of 1000 entries of about 400 bytes (4 full bundles and hash tiles,
// the partial ones at the new size), built beforehand.
func BenchmarkCommit(b *testing.B) {
	const perFlush = 1000
	s := open(b, pgtest.New(b))
	l := newLog(b)
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := b.Context()
	b.SetBytes(perFlush * 400)
	for b.Loop() {
		b.StopTimer()
		f := l.next(benchEntries(rng, perFlush)...)
		b.StartTimer()
		if err := s.Commit(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perFlush)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkLedger measures events/s batched through a real ledger over the
// driver: 16 clients each append batches of 100 entries of about 400 bytes
// and wait until they are durable; the ledger group-commits whatever is
// pending, signs the checkpoint and commits one flush at a time.
func BenchmarkLedger(b *testing.B) {
	const clients, perBatch = 16, 100
	s := open(b, pgtest.New(b))
	skey, _, err := note.GenerateKey(nil, "example.com/bench")
	if err != nil {
		b.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.New(b.Context(), ledger.Config{Storage: s, Signer: signer,
		KeyOf: func([]byte) (string, error) { return "", nil }, Logger: testlog.New(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(b.Context())
	// Batches made up front, so the clients' CPU goes to appending.
	rng := rand.New(rand.NewPCG(3, 4))
	batches := make([][]ledger.Entry, 64)
	for i := range batches {
		for _, e := range benchEntries(rng, perBatch) {
			batches[i] = append(batches[i], ledger.Entry{Leaf: e})
		}
	}
	b.SetBytes(perBatch * 400)
	b.ResetTimer()
	start := time.Now()
	var next sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := c; ; i += clients {
				next.Lock()
				if n == b.N {
					next.Unlock()
					return
				}
				n++
				next.Unlock()
				if _, err := l.Append(b.Context(), batches[i%len(batches)]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*perBatch)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkCheckpointHistory publishes checkpoints as a ledger with three
// witnesses does and reports what log_checkpoints (rows, index and TOAST)
// takes per checkpoint and per year at one checkpoint a second.
func BenchmarkCheckpointHistory(b *testing.B) {
	s := open(b, pgtest.New(b))
	ctx := b.Context()
	sign := storagetest.WitnessedCheckpoints(b, "audit.example.com/prod", 3)
	var before int64
	if err := s.Pool().QueryRow(ctx, `SELECT pg_total_relation_size('log_checkpoints')`).Scan(&before); err != nil {
		b.Fatal(err)
	}
	size := uint64(1_000_000)
	b.ResetTimer()
	for range b.N {
		size += 1000
		if err := s.Publish(ctx, sign(size)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var after int64
	if err := s.Pool().QueryRow(ctx, `SELECT pg_total_relation_size('log_checkpoints')`).Scan(&after); err != nil {
		b.Fatal(err)
	}
	storagetest.ReportHistorySize(b, after-before)
}
