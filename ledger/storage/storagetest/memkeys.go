package storagetest

import (
	"context"
	"fmt"
	"sync"

	"github.com/ledger-dev/ledger/ledger"
)

// MemoryKeys is an in-memory ledger.KeyStore, for tests of what uses one.
// The zero value is an empty store.
type MemoryKeys struct {
	mu        sync.Mutex
	watermark uint64
	recs      map[string]ledger.KeyRecord
}

// Watermark returns the watermark.
func (m *MemoryKeys) Watermark(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.watermark, nil
}

// Lookup returns the stored records of those of keys that are stored.
func (m *MemoryKeys) Lookup(_ context.Context, keys []string) ([]ledger.KeyRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ledger.KeyRecord
	for _, k := range keys {
		if r, ok := m.recs[k]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// Store adds recs and moves the watermark from from to to, if it is from
// and no key of recs is stored.
func (m *MemoryKeys) Store(_ context.Context, from, to uint64, recs []ledger.KeyRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.watermark != from || to < from {
		return fmt.Errorf("storing [%d, %d) at watermark %d", from, to, m.watermark)
	}
	batch := make(map[string]bool, len(recs))
	for _, r := range recs {
		if _, ok := m.recs[r.Key]; ok || batch[r.Key] || r.Key == "" || r.Index < from || r.Index >= to {
			return fmt.Errorf("record %q at %d: a key already stored, or not an entry of [%d, %d)", r.Key, r.Index, from, to)
		}
		batch[r.Key] = true
	}
	if m.recs == nil {
		m.recs = map[string]ledger.KeyRecord{}
	}
	for _, r := range recs {
		m.recs[r.Key] = r
	}
	m.watermark = to
	return nil
}
