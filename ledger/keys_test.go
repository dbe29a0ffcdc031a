package ledger_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

// closeLedger closes l, which waits for its keys to be stored.
func closeLedger(t *testing.T, l *ledger.Ledger) {
	t.Helper()
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// checkResent resends entries one at a time and checks that each resolves
// to index at+i as a duplicate.
func checkResent(t *testing.T, l *ledger.Ledger, entries []ledger.Entry, at uint64) {
	t.Helper()
	for i, e := range entries {
		res := appendRetrying(t, l, []ledger.Entry{e})
		if res[0].Index != at+uint64(i) || !res[0].Duplicate || res[0].LeafHash != tiles.LeafHash(e.Leaf) {
			t.Fatalf("resent key %s: %+v, want a duplicate at %d", e.Key, res[0], at+uint64(i))
		}
	}
}

// TestRestartFromWatermark fills a log of 100k entries, restarts it, and
// checks that the restart read one entry bundle (the partial one at the
// right edge) and holds no keys in memory (its key store covers the whole
// log), yet finds the first and the last ids.
func TestRestartFromWatermark(t *testing.T) {
	const total, per = 100_010, 2000
	mem, keys := storagetest.NewMemory(), storagetest.NewMemoryKeys()
	signer, _ := storagetest.NewSigner(t, "example.com/restart")
	l := storagetest.NewLedger(t, mem, keys, signer)
	for from := 0; from < total; from += per {
		appendRetrying(t, l, batchOf(from, min(per, total-from)))
	}
	closeLedger(t, l)

	reads := mem.BundleReads()
	l = storagetest.NewLedger(t, mem, keys, signer)
	defer closeLedger(t, l)
	if n := mem.BundleReads() - reads; n != 1 {
		t.Errorf("the restart read %d entry bundles, want 1: the partial one at %d", n, total)
	}
	if n := ledger.KeysInMemory(l); n != 0 {
		t.Fatalf("after a restart over a stored key index, %d keys are in memory, want 0", n)
	}
	checkResent(t, l, batchOf(0, 1000), 0)
	checkResent(t, l, batchOf(total-100, 100), total-100)
	if n := ledger.KeysInMemory(l); n != 0 {
		t.Errorf("resends put %d keys in memory, want 0", n)
	}
}

// TestPersisterFaults fails Stores of the key store, restarts the ledger
// as if killed while keys waited to be stored, and checks that every
// acknowledged key is still deduplicated, and that after a clean Close the
// keys have all left memory.
func TestPersisterFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []storagetest.KeyFault
	}{
		{"FailBeforeStore", []storagetest.KeyFault{storagetest.FailBeforeStore}},
		{"StoreThenFail", []storagetest.KeyFault{storagetest.StoreThenFail}},
		{"Both, repeatedly", []storagetest.KeyFault{storagetest.FailBeforeStore, storagetest.StoreThenFail,
			storagetest.FailBeforeStore, storagetest.FailBeforeStore, storagetest.StoreThenFail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, keys := storagetest.NewMemory(), storagetest.NewMemoryKeys()
			signer, vkey := storagetest.NewSigner(t, "example.com/persister")
			l := storagetest.NewLedger(t, mem, keys, signer)
			var want []ledger.Entry
			for i := range 6 {
				if i == 2 {
					keys.FailNext(tc.faults...)
				}
				b := batchOf(len(want), 300)
				appendRetrying(t, l, b)
				want = append(want, b...)
			}
			// Abandoned, as if killed, with keys perhaps not stored.
			l = storagetest.NewLedger(t, mem, keys, signer)
			checkResent(t, l, want, 0)
			more := batchOf(len(want), 300)
			appendRetrying(t, l, more)
			want = append(want, more...)
			closeLedger(t, l)

			l = storagetest.NewLedger(t, mem, keys, signer)
			defer closeLedger(t, l)
			if n := ledger.KeysInMemory(l); n != 0 {
				t.Fatalf("after a clean Close and a restart, %d keys are in memory, want 0", n)
			}
			checkResent(t, l, want, 0)
			storagetest.AuditStore(t, mem, vkey, leaves(want))
		})
	}
}

// TestLookupEvictRace appends the same keys from many goroutines at once
// while the persister stores them and drops them from memory: whichever
// way each Add meets the key (pending, in memory, in the store, or moving
// between them), every key lands once.
func TestLookupEvictRace(t *testing.T) {
	mem, keys := storagetest.NewMemory(), storagetest.NewMemoryKeys()
	signer, vkey := storagetest.NewSigner(t, "example.com/race")
	l := storagetest.NewLedger(t, mem, keys, signer)
	const clients, batches, size = 6, 150, 8
	var mu sync.Mutex
	at := map[string]uint64{}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for b := range batches {
				batch := batchOf(b*size, size)
				res := appendRetrying(t, l, batch)
				mu.Lock()
				for i, r := range res {
					if prev, ok := at[batch[i].Key]; ok && prev != r.Index {
						t.Errorf("key %s landed at %d and at %d", batch[i].Key, prev, r.Index)
					}
					at[batch[i].Key] = r.Index
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	closeLedger(t, l)
	want := make([][]byte, batches*size)
	for k, i := range at {
		if i >= uint64(len(want)) {
			t.Fatalf("key %s at %d: the log holds more than one entry per key", k, i)
		}
		want[i] = []byte(k + "|" + k[1:])
	}
	storagetest.AuditStore(t, mem, vkey, want)
}

// TestKeyConflict sends a key again with other content while its original
// is pending, committed and in memory, and only in the key store: each is
// a *KeyConflictError naming the original, appending nothing; Entry.Same
// is given the original's exact leaf and can call it the same submission.
func TestKeyConflict(t *testing.T) {
	mem, keys := storagetest.NewMemory(), storagetest.NewMemoryKeys()
	signer, _ := storagetest.NewSigner(t, "example.com/conflict")
	l := storagetest.NewLedger(t, mem, keys, signer)
	appendRetrying(t, l, batchOf(0, 10))
	closeLedger(t, l) // keys 0..9 are in the store only
	l = storagetest.NewLedger(t, mem, keys, signer)
	defer closeLedger(t, l)
	appendRetrying(t, l, batchOf(10, 10)) // keys 10..19: committed, maybe in memory
	release := mem.Hold()
	pending, err := l.Add(t.Context(), batchOf(20, 10)) // keys 20..29: pending
	if err != nil {
		t.Fatal(err)
	}
	other := func(n int) ledger.Entry {
		k := fmt.Sprintf("k%d", n)
		return ledger.Entry{Key: k, Leaf: []byte(k + "|other")}
	}
	sameAs := func(n int) ledger.Entry {
		e := other(n)
		want := batchOf(n, 1)[0].Leaf
		e.Same = func(original []byte) bool { return string(original) == string(want) }
		return e
	}
	for _, tc := range []struct {
		name  string
		batch []ledger.Entry
		index uint64 // the original's
		entry int
		dup   bool // no conflict: a duplicate of index
	}{
		{"stored only", []ledger.Entry{other(3)}, 3, 0, false},
		{"committed", []ledger.Entry{other(12)}, 12, 0, false},
		{"pending", []ledger.Entry{other(25)}, 25, 0, false},
		{"second of a batch", append(batchOf(100, 1), other(4)), 4, 1, false},
		{"twice in the batch", []ledger.Entry{other(200), batchOf(200, 1)[0]}, 30, 1, false},
		{"same submission, stored only", []ledger.Entry{sameAs(5)}, 5, 0, true},
		{"same submission, pending", []ledger.Entry{sameAs(26)}, 26, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := l.Add(t.Context(), tc.batch)
			if tc.dup {
				if err != nil {
					t.Fatal(err)
				}
				if tc.index >= 20 {
					return // waits for the held flush; checked below
				}
				res, err := f.Wait(t.Context())
				if err != nil || !res[0].Duplicate || res[0].Index != tc.index {
					t.Fatalf("same submission: %+v, %v; want a duplicate of %d", res, err, tc.index)
				}
				return
			}
			var kc *ledger.KeyConflictError
			if !errors.As(err, &kc) || !errors.Is(err, ledger.ErrKeyConflict) || kc.Index != tc.index || kc.Entry != tc.entry {
				t.Fatalf("Add: %v, want a conflict of entry %d with index %d", err, tc.entry, tc.index)
			}
		})
	}
	release()
	if _, err := pending.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if size := l.Committed().Size; size != 30 {
		t.Errorf("size %d after the conflicts, want 30: a refused batch appended", size)
	}
}

// TestKeyStoreConfig: a ledger needs exactly one key store, the Storage's
// own or Config.Keys.
func TestKeyStoreConfig(t *testing.T) {
	signer, _ := storagetest.NewSigner(t, "example.com/config")
	for _, tc := range []struct {
		name    string
		storage ledger.Storage
		keys    ledger.KeyStore
		ok      bool
	}{
		{"Storage without a key index, no Keys", storagetest.NewMemory(), nil, false},
		{"Storage without a key index, Keys", storagetest.NewMemory(), storagetest.NewMemoryKeys(), true},
		{"Storage with a key index, no Keys", storagetest.NewKeyedMemory(), nil, true},
		{"Storage with a key index, Keys", storagetest.NewKeyedMemory(), storagetest.NewMemoryKeys(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ledger.New(t.Context(), ledger.Config{Storage: tc.storage, Keys: tc.keys, Signer: signer, KeyOf: storagetest.KeyBeforeBar})
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok=%v", err, tc.ok)
			}
			if l != nil {
				closeLedger(t, l)
			}
		})
	}
}

// TestFreshKeys: a key marked Fresh is not looked up in the key store, yet
// it is stored, and a later resend under it (not fresh) finds it.
func TestFreshKeys(t *testing.T) {
	mem, keys := storagetest.NewMemory(), storagetest.NewMemoryKeys()
	signer, _ := storagetest.NewSigner(t, "example.com/fresh")
	l := storagetest.NewLedger(t, mem, keys, signer)
	fresh := batchOf(0, 50)
	for i := range fresh {
		fresh[i].Fresh = true
	}
	appendRetrying(t, l, fresh)
	if _, lookups := keys.Stores(); lookups != 0 {
		t.Errorf("%d lookups for fresh keys, want 0", lookups)
	}
	closeLedger(t, l)
	l = storagetest.NewLedger(t, mem, keys, signer)
	defer closeLedger(t, l)
	checkResent(t, l, batchOf(0, 50), 0)
}
