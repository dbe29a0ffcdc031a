package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// KeyFault selects how MemoryKeys' next Store fails.
type KeyFault int

// The faults MemoryKeys can inject into a Store.
const (
	// NoKeyFault stores normally.
	NoKeyFault KeyFault = iota
	// FailBeforeStore fails, storing nothing.
	FailBeforeStore
	// StoreThenFail stores fully but reports failure.
	StoreThenFail
)

// MemoryKeys is an in-memory ledger.KeyStore with fault injection.
type MemoryKeys struct {
	mu      sync.Mutex
	recs    map[string]ledger.KeyRecord
	water   uint64
	next    []KeyFault
	stores  int
	lookups int
}

// NewMemoryKeys returns an empty MemoryKeys, of watermark 0.
func NewMemoryKeys() *MemoryKeys { return &MemoryKeys{recs: map[string]ledger.KeyRecord{}} }

// FailNext makes the next Stores fail as faults say, one each.
func (k *MemoryKeys) FailNext(faults ...KeyFault) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.next = append(k.next, faults...)
}

// Watermark returns the watermark.
func (k *MemoryKeys) Watermark(context.Context) (uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.water, nil
}

// Lookup returns the stored records of keys.
func (k *MemoryKeys) Lookup(_ context.Context, keys []string) ([]ledger.KeyRecord, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lookups++
	var out []ledger.KeyRecord
	for _, key := range keys {
		if r, ok := k.recs[key]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// Store adds recs and moves the watermark from from to to, subject to the
// injected fault.
func (k *MemoryKeys) Store(_ context.Context, from, to uint64, recs []ledger.KeyRecord) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	fault := NoKeyFault
	if len(k.next) > 0 {
		fault, k.next = k.next[0], k.next[1:]
	}
	if fault == FailBeforeStore {
		return ErrInjected
	}
	if k.water != from {
		return fmt.Errorf("store of [%d, %d) over watermark %d", from, to, k.water)
	}
	if err := k.add(from, to, recs); err != nil {
		return err
	}
	k.stores++
	if fault == StoreThenFail {
		return ErrInjected
	}
	return nil
}

// add checks and adds recs, the records of [from, to). k.mu is held.
func (k *MemoryKeys) add(from, to uint64, recs []ledger.KeyRecord) error {
	batch := make(map[string]bool, len(recs))
	for _, r := range recs {
		if r.Key == "" || r.Index < from || r.Index >= to {
			return fmt.Errorf("record %q at %d is not of a keyed entry of [%d, %d)", r.Key, r.Index, from, to)
		}
		if old, ok := k.recs[r.Key]; ok || batch[r.Key] {
			return fmt.Errorf("key %q stored at %d and at %d", r.Key, old.Index, r.Index)
		}
		batch[r.Key] = true
	}
	if k.recs == nil {
		k.recs = map[string]ledger.KeyRecord{}
	}
	for _, r := range recs {
		k.recs[r.Key] = r
	}
	k.water = to
	return nil
}

// Stores returns how many Stores have succeeded (or stored and reported
// failure), and Lookups how many Lookups were made.
func (k *MemoryKeys) Stores() (stores, lookups int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stores, k.lookups
}

// KeyedMemory is a Memory that keeps the key index itself, as a database
// does: Commit stores Flush.Keys in the same step as the flush, its
// watermark is the committed size, and it refuses Store.
type KeyedMemory struct {
	*Memory
}

// NewKeyedMemory returns an empty KeyedMemory.
func NewKeyedMemory() *KeyedMemory {
	m := NewMemory()
	m.keys = NewMemoryKeys()
	return &KeyedMemory{Memory: m}
}

// errStoreByCommit is what KeyedMemory.Store returns.
var errStoreByCommit = errors.New("this key store is written by Commit")

// commit stores the keys of f, which is being committed. k.mu is free.
func (k *MemoryKeys) commit(f *ledger.Flush) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.add(f.Old.Size, f.New.Size, f.Keys)
}

// Watermark returns the committed size.
func (m *KeyedMemory) Watermark(ctx context.Context) (uint64, error) {
	st, err := m.State(ctx)
	return st.Size, err
}

// Lookup returns the stored records of keys.
func (m *KeyedMemory) Lookup(ctx context.Context, keys []string) ([]ledger.KeyRecord, error) {
	return m.keys.Lookup(ctx, keys)
}

// Store fails: Commit stores the keys.
func (m *KeyedMemory) Store(context.Context, uint64, uint64, []ledger.KeyRecord) error {
	return errStoreByCommit
}

// Published returns the last checkpoint published, as a database shared
// by instances does: a ledger over a KeyedMemory follows what the other
// ledgers over it publish (ledger.PublishedReader).
func (m *KeyedMemory) Published(ctx context.Context) ([]byte, error) {
	return m.Fetch(ctx, tiles.CheckpointPath)
}
