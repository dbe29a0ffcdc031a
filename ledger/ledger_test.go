package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

// appendRetrying appends a batch, retrying while the sequencer recovers.
func appendRetrying(t *testing.T, l *ledger.Ledger, batch []ledger.Entry) []ledger.Result {
	t.Helper()
	for range 100 {
		res, err := l.Append(t.Context(), batch)
		if errors.Is(err, ledger.ErrPushback) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		return res
	}
	t.Fatal("append kept being pushed back")
	return nil
}

func batchOf(from, n int) []ledger.Entry {
	out := make([]ledger.Entry, n)
	for i := range out {
		k := fmt.Sprintf("k%d", from+i)
		out[i] = ledger.Entry{Key: k, Leaf: []byte(k + "|" + fmt.Sprint(from+i))}
	}
	return out
}

func leaves(b []ledger.Entry) [][]byte {
	out := make([][]byte, len(b))
	for i, e := range b {
		out[i] = e.Leaf
	}
	return out
}

// TestFaults injects a storage fault into one flush, and checks after every
// step that acknowledged entries are exactly where they were acknowledged,
// that a failed batch is either wholly in the log or wholly absent, that
// retries are idempotent, and that the whole tree verifies. "Restart" also
// throws the ledger away and recovers from storage, as after kill -9.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     storagetest.Fault
		persisted bool // whether the failed batch ends up committed
	}{
		{"FailBeforePersist", storagetest.FailBeforePersist, false},
		{"FailAfterTiles", storagetest.FailAfterTiles, false},
		{"PersistThenFail", storagetest.PersistThenFail, true},
	} {
		for _, restart := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/restart=%v", tc.name, restart), func(t *testing.T) {
				mem, keys := storagetest.NewMemory(), storagetest.NewMemoryKeys()
				signer, vkey := storagetest.NewSigner(t, "example.com/faults")
				l := storagetest.NewLedger(t, mem, keys, signer)
				var want [][]byte
				first := batchOf(0, 300)
				appendRetrying(t, l, first)
				want = append(want, leaves(first)...)
				storagetest.AuditStore(t, mem, vkey, want)

				mem.FailNext(tc.fault)
				failed := batchOf(300, 50)
				if _, err := l.Append(t.Context(), failed); !errors.Is(err, storagetest.ErrInjected) {
					t.Fatalf("append during a fault: %v, want the injected error", err)
				}
				if tc.persisted {
					want = append(want, leaves(failed)...)
				}
				storagetest.AuditStore(t, mem, vkey, want)

				if restart {
					l = storagetest.NewLedger(t, mem, keys, signer) // the old one is abandoned, as if killed
				}
				// The client retries the failed batch with the same keys.
				res := appendRetrying(t, l, failed)
				for i, r := range res {
					if r.Index != uint64(300+i) || r.Duplicate != tc.persisted {
						t.Fatalf("retried entry %d landed at %+v, want index %d duplicate=%v", i, r, 300+i, tc.persisted)
					}
				}
				if !tc.persisted {
					want = append(want, leaves(failed)...)
				}
				more := batchOf(350, 700)
				appendRetrying(t, l, more)
				want = append(want, leaves(more)...)
				storagetest.AuditStore(t, mem, vkey, want)
				if err := l.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestConcurrentAppends checks that concurrent batches are atomic and
// contiguous, duplicates resolve to the first copy, and the log verifies.
func TestConcurrentAppends(t *testing.T) {
	mem := storagetest.NewMemory()
	signer, vkey := storagetest.NewSigner(t, "example.com/concurrent")
	l := storagetest.NewLedger(t, mem, storagetest.NewMemoryKeys(), signer)
	const clients, batches, size = 8, 40, 25
	leafAt := make(map[uint64][]byte)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for b := range batches {
				batch := batchOf((c*batches+b)*size, size)
				batch = append(batch, batch[0]) // a duplicate inside the batch
				res := appendRetrying(t, l, batch)
				mu.Lock()
				for i, r := range res[:size] {
					if i > 0 && r.Index != res[i-1].Index+1 {
						t.Errorf("batch not contiguous: %d after %d", r.Index, res[i-1].Index)
					}
					leafAt[r.Index] = batch[i].Leaf
				}
				if res[size].Index != res[0].Index || !res[size].Duplicate {
					t.Errorf("in-batch duplicate resolved to %+v, want index %d", res[size], res[0].Index)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := make([][]byte, len(leafAt))
	for i := range want {
		leaf, ok := leafAt[uint64(i)]
		if !ok {
			t.Fatalf("no acknowledged entry at index %d", i)
		}
		want[i] = leaf
	}
	storagetest.AuditStore(t, mem, vkey, want)
}

// TestPushback checks that a full pool refuses a batch as a whole.
func TestPushback(t *testing.T) {
	mem := storagetest.NewMemory()
	signer, _ := storagetest.NewSigner(t, "example.com/pushback")
	l, err := ledger.New(t.Context(), ledger.Config{Storage: mem, Keys: storagetest.NewMemoryKeys(), Signer: signer, KeyOf: storagetest.KeyBeforeBar, MaxPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(t.Context())
	release := mem.Hold()
	first, err := l.Add(t.Context(), batchOf(0, 8)) // the flush taking it blocks in Commit
	if err != nil {
		t.Fatal(err)
	}
	// Until the flush loop takes the first batch, the second overflows the pool.
	var second *ledger.Future
	for deadline := time.Now().Add(5 * time.Second); second == nil; {
		if second, err = l.Add(t.Context(), batchOf(8, 8)); errors.Is(err, ledger.ErrPushback) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		} else if err != nil {
			t.Fatalf("second batch: %v", err)
		}
	}
	if _, err := l.Add(t.Context(), batchOf(16, 3)); !errors.Is(err, ledger.ErrPushback) {
		t.Fatalf("a batch overflowing MaxPending: %v, want ErrPushback", err)
	}
	release()
	for _, f := range []*ledger.Future{first, second} {
		if _, err := f.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	res, err := l.Append(t.Context(), batchOf(16, 3))
	if err != nil || res[0].Index != 16 {
		t.Fatalf("the refused batch, resent: %+v, %v; want it at index 16", res, err)
	}
}

// fakeClock is a Config.Clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestPublishInterval checks that checkpoints are published at most once per
// PublishInterval as Config.Clock tells time, and that Close publishes the
// last one.
func TestPublishInterval(t *testing.T) {
	mem := storagetest.NewMemory()
	signer, _ := storagetest.NewSigner(t, "example.com/clock")
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	l, err := ledger.New(t.Context(), ledger.Config{Storage: mem, Keys: storagetest.NewMemoryKeys(), Signer: signer, KeyOf: storagetest.KeyBeforeBar,
		PublishInterval: time.Hour, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(t.Context())
	// New published the empty log now: an hour later, the next checkpoint
	// goes out as soon as it is committed.
	clock.Add(time.Hour)
	appendRetrying(t, l, batchOf(0, 3))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := l.WaitPublished(ctx, 3); err != nil {
		t.Fatalf("size 3, an interval after the last publication: %v", err)
	}
	// Within the same interval, the next one waits.
	appendRetrying(t, l, batchOf(3, 3))
	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := l.WaitPublished(ctx, 6); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("size 6, within the interval: %v, want it still unpublished", err)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, size := l.Published(); size != 6 {
		t.Errorf("after Close the published size is %d, want 6", size)
	}
}
