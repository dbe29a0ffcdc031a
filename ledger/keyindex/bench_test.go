package keyindex_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

// benchKeys is how many keys the benchmark index holds.
const benchKeys = 1_000_000

// benchIndex returns the path of a key index of benchKeys keys (of the
// shape tenant, zero byte, 36-character id), built once and cached in
// $TMPDIR, and reports its bytes per key.
func benchIndex(b *testing.B) string {
	path := filepath.Join(os.TempDir(), "ledger-keyindex-bench-v2.sqlite")
	if _, err := os.Stat(path); err != nil {
		tmp := path + ".tmp"
		os.Remove(tmp)
		s := open(b, tmp)
		for from := 0; from < benchKeys; from += 10_000 {
			if err := s.Store(b.Context(), uint64(from), uint64(from+10_000), benchRecords(from, 10_000)); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.DB().ExecContext(b.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		s.Close()
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
	}
	return path
}

// benchRecords are the records of n entries from index from on, keyed like
// the ledger's events.
func benchRecords(from, n int) []ledger.KeyRecord {
	recs := storagetest.KeyRecords("", uint64(from), n)
	for i := range recs {
		recs[i].Key = benchKey(from + i)
	}
	return recs
}

// benchKey is the key of entry i: one of 50 tenants, a zero byte and a
// UUIDv7-like id, time-ordered as the ids the ledger assigns are.
func benchKey(i int) string {
	return fmt.Sprintf("tenant-%d\x00%08x-7c1e-7000-8f00-%012x", i%50, 0x019389a2+i/1000, i)
}

// randomKey is the key of entry i with a random id (UUIDv4-like): a
// client's ids in no order, the worst case for a B-tree.
func randomKey(i int) string {
	h := sha256.Sum256(fmt.Append(nil, i))
	return fmt.Sprintf("tenant-%d\x00%x-%x-4%x-8%x-%x", i%50, h[:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// BenchmarkStore stores batches of 10,000 records into an index that grows
// from empty, with time-ordered ids and with random ones.
func BenchmarkStore(b *testing.B) {
	b.Run("v7", func(b *testing.B) { benchmarkStore(b, benchKey) })
	b.Run("random", func(b *testing.B) { benchmarkStore(b, randomKey) })
}

func benchmarkStore(b *testing.B, key func(int) string) {
	s := open(b, filepath.Join(b.TempDir(), "keys.sqlite"))
	const batch = 10_000
	recs := make([][]ledger.KeyRecord, 0, b.N)
	for i := range b.N {
		r := benchRecords(i*batch, batch)
		for j := range r {
			r[j].Key = key(i*batch + j)
		}
		recs = append(recs, r)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := s.Store(b.Context(), uint64(i*batch), uint64((i+1)*batch), recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkLookup looks up keys in the index of a million keys: n stored
// keys spread over the index per lookup.
func BenchmarkLookup(b *testing.B) {
	path := benchIndex(b)
	if fi, err := os.Stat(path); err == nil {
		b.Logf("%d keys in %d bytes: %.1f bytes/key", benchKeys, fi.Size(), float64(fi.Size())/benchKeys)
	}
	s := open(b, path)
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			keys := make([][]string, b.N)
			for i := range keys {
				keys[i] = make([]string, n)
				for j := range keys[i] {
					keys[i][j] = benchKey((i*7919 + j*104729) % benchKeys)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				got, err := s.Lookup(b.Context(), keys[i])
				if err != nil || len(got) != n {
					b.Fatalf("lookup of %d keys: %d found, %v", n, len(got), err)
				}
			}
		})
	}
}
