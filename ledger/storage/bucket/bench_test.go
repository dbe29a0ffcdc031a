package bucket_test

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/s3test"
	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
	"github.com/ledger-dev/ledger/ledger/storage/bucket"
	"github.com/ledger-dev/ledger/ledger/storage/postgres"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

// counting is a blob.Store that counts the objects and bytes put in it.
type counting struct {
	blob.Store
	puts, bytes, checkpoints atomic.Int64
}

func (c *counting) Put(ctx context.Context, name string, data []byte, opts blob.PutOptions) error {
	if name == tiles.CheckpointPath {
		c.checkpoints.Add(1)
	} else {
		c.puts.Add(1)
		c.bytes.Add(int64(len(data)))
	}
	return c.Store.Put(ctx, name, data, opts)
}

// BenchmarkAppend appends batches of 1, 100 and 1,000 entries of about 400
// bytes, one Append (so one flush) at a time, through a real ledger over
// the driver, PostgreSQL and versitygw on this machine. Besides events/s it
// reports what an S3 bill depends on: tile and bundle objects written per
// 1,000 events (PUT requests; the checkpoint's, one per publish interval,
// apart), bytes written per event, and bytes stored per event at the end
// (the bucket's files, which hold exactly the objects' bytes), a second
// after the last publish, once superseded partial tiles are deleted. The
// publish interval is 100ms.
func BenchmarkAppend(b *testing.B) {
	srv := s3test.Start(b)
	for i, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			name := fmt.Sprintf("bench-%d", i)
			objects, err := s3.Open(b.Context(), srv.Bucket(b, name, s3test.BucketOptions{}))
			if err != nil {
				b.Fatal(err)
			}
			c := &counting{Store: objects}
			db, err := postgres.Open(b.Context(), postgres.Config{DSN: pgtest.New(b), Logger: testlog.New(b)})
			if err != nil {
				b.Fatal(err)
			}
			s, err := bucket.New(bucket.Config{Objects: c, DB: db, Logger: testlog.New(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			signer, _ := storagetest.NewSigner(b, "example.com/bench")
			l, err := ledger.New(b.Context(), ledger.Config{Storage: s, Signer: signer, Logger: testlog.New(b),
				KeyOf: func([]byte) (string, error) { return "", nil }, PublishInterval: 100 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			entries := make([]ledger.Entry, batch)
			n := 0
			c.puts.Store(0)
			c.bytes.Store(0)
			for b.Loop() {
				b.StopTimer()
				for j := range entries {
					entries[j] = ledger.Entry{Leaf: storagetest.BenchLeaf(rng, n+j)}
				}
				b.StartTimer()
				if _, err := l.Append(b.Context(), entries); err != nil {
					b.Fatal(err)
				}
				n += batch
			}
			b.StopTimer()
			if err := l.Close(b.Context()); err != nil {
				b.Fatal(err)
			}
			time.Sleep(time.Second) // for the deletion of superseded partial tiles
			var stored int64
			filepath.WalkDir(filepath.Join(srv.Dir, name), func(_ string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					if fi, err := e.Info(); err == nil {
						stored += fi.Size()
					}
				}
				return nil
			})
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(c.puts.Load())*1000/float64(n), "objects/1k-events")
			b.ReportMetric(float64(c.bytes.Load())/float64(n), "B-written/event")
			b.ReportMetric(float64(stored)/float64(n), "B-stored/event")
		})
	}
}
