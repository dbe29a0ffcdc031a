package ledger_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

// TestTwoWriters runs two ledgers over one storage, as two instances over
// one database: both accept appends at once, each follows the other's
// commits, an entry submitted to both under one key lands once, and the
// final log holds exactly the acknowledged entries, each at its index.
func TestTwoWriters(t *testing.T) {
	s := storagetest.NewKeyedMemory()
	signer, vkey := storagetest.NewSigner(t, "example.com/two")
	writers := []*ledger.Ledger{storagetest.NewLedger(t, s, nil, signer), storagetest.NewLedger(t, s, nil, signer)}

	const perWriter, batches = 40, 25
	var mu sync.Mutex
	at := map[uint64][]byte{} // index -> leaf, from the acknowledgements
	keyAt := map[string]uint64{}
	record := func(batch []ledger.Entry, res []ledger.Result) {
		mu.Lock()
		defer mu.Unlock()
		for i, r := range res {
			if prev, ok := keyAt[batch[i].Key]; ok && prev != r.Index {
				t.Errorf("key %s acknowledged at %d and at %d", batch[i].Key, prev, r.Index)
			}
			keyAt[batch[i].Key] = r.Index
			if old, ok := at[r.Index]; ok && string(old) != string(batch[i].Leaf) {
				t.Errorf("index %d acknowledged for %q and %q", r.Index, old, batch[i].Leaf)
			}
			at[r.Index] = batch[i].Leaf
		}
	}
	var wg sync.WaitGroup
	for w, l := range writers {
		for c := range 4 {
			wg.Go(func() {
				for b := range batches {
					batch := batchOf((w*4+c)*batches*perWriter+b*perWriter, perWriter)
					// Every fifth batch is also sent to the other writer, as a
					// client retrying against another instance would.
					shared := []ledger.Entry{{Key: fmt.Sprintf("shared-%d-%d", c, b), Leaf: fmt.Appendf(nil, "shared-%d-%d|x", c, b)}}
					if b%5 == 0 {
						batch = append(batch, shared...)
					}
					record(batch, appendRetrying(t, l, batch))
				}
			})
		}
	}
	wg.Wait()
	for _, l := range writers {
		if err := l.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	want := make([][]byte, len(at))
	for i := range want {
		leaf, ok := at[uint64(i)]
		if !ok {
			t.Fatalf("no entry acknowledged at index %d of %d", i, len(at))
		}
		want[i] = leaf
	}
	if n := 2*4*batches*perWriter + 4*batches/5; len(want) != n {
		t.Fatalf("log holds %d entries, want %d", len(want), n)
	}
	storagetest.AuditStore(t, s, vkey, want)
}
