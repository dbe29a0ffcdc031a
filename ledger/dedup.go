package ledger

import (
	"context"
	"fmt"
	"strings"

	"github.com/ledger-dev/ledger/tiles"
)

// What Add knows of a batch's keys: the in-memory index holds the keys of
// entries at or above the key store's watermark, and the store those below
// it. A record leaves memory only once it is stored, as the watermark
// moves past it (under l.mu). So a key missing from memory at one moment
// and from a store lookup made after it is new, unless meanwhile another
// Add logged it and the watermark passed it: that is, unless the watermark
// rose above the index the next entry was to get at that moment, or memory
// was reloaded. Then the lookup is made again.

// known is what resolve learned, outside l.mu, of a batch's keys that are
// not in memory.
type known struct {
	stored map[string]keyRecord // the store's records, by index form
	looked map[string]uint64    // keys the store did not have, and l.next before the lookup
	same   map[sameAsked]bool   // the verdicts of Entry.Same
	leaves map[uint64][][]byte  // committed bundles read for Same, by bundle index
}

// sameAsked is an entry of the batch and the index of the entry its key
// holds in the log.
type sameAsked struct {
	entry int
	index uint64
}

// hit returns the record of the key (in index form) k: from memory, else
// from what the store said. l.mu is held.
func (kn *known) hit(l *Ledger, k string) (keyRecord, bool) {
	if rec, ok := l.keys[k]; ok {
		return rec, true
	}
	rec, ok := kn.stored[k]
	return rec, ok
}

// resolve learns what memory does not know of b's keys: it looks them up
// in the key store and reads the original leaves that Entry.Same needs,
// letting go of l.mu while it does, until a pass under l.mu needs nothing
// more. l.mu is held on entry and on return.
func (l *Ledger) resolve(ctx context.Context, b *batch) (*known, error) {
	kn := &known{stored: map[string]keyRecord{}, looked: map[string]uint64{},
		same: map[sameAsked]bool{}, leaves: map[uint64][][]byte{}}
	for {
		missing, asks := l.unknowns(b, kn)
		if len(missing) == 0 && len(asks) == 0 {
			return kn, nil
		}
		next, reloads, size := l.next, l.reloads, l.committed.Size
		l.mu.Unlock()
		recs, err := l.lookup(ctx, missing)
		if err == nil {
			err = l.judge(ctx, b, kn, asks, size)
		}
		l.mu.Lock()
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			kn.stored[indexKey(r.Key)] = keyRecord{index: r.Index, hash: r.Hash}
		}
		if l.reloads != reloads {
			// The pending originals may be gone, and what was not found
			// may have been logged at any index since.
			clear(kn.same)
			clear(kn.looked)
			continue
		}
		for _, k := range missing {
			if ik := indexKey(k); !has(kn.stored, ik) {
				kn.looked[ik] = next
			}
		}
	}
}

// pendingAsk is a Same verdict to ask, with the original leaf when it is
// still pending (nil when it is committed and must be read).
type pendingAsk struct {
	sameAsked
	leaf []byte
}

// unknowns returns the keys of b to look up in the store (those not in
// memory, not fresh, and not found missing by a lookup that is still
// good)
// and the Same verdicts still to ask. l.mu is held.
func (l *Ledger) unknowns(b *batch, kn *known) (missing []string, asks []pendingAsk) {
	asked := map[string]bool{}
	for i, e := range b.entries {
		k := b.ikeys[i]
		if k == "" {
			continue
		}
		rec, ok := kn.hit(l, k)
		if !ok {
			// Missing from the store and from memory, a key is new unless
			// it was logged since (at next or later) and stored.
			n, looked := kn.looked[k]
			if !e.Fresh && !(looked && l.water <= n) && !asked[k] {
				asked[k] = true
				missing = append(missing, e.Key)
			}
			continue
		}
		q := sameAsked{entry: i, index: rec.index}
		if _, done := kn.same[q]; rec.hash != b.sums[i] && e.Same != nil && !done {
			var leaf []byte
			if _, inMemory := l.keys[k]; inMemory {
				leaf = l.pendingLeaf(rec.index)
			} // else the store has it: it is committed, maybe by another writer beyond what this one has seen
			asks = append(asks, pendingAsk{sameAsked: q, leaf: leaf})
		}
	}
	return missing, asks
}

// lookup asks the key store for keys.
func (l *Ledger) lookup(ctx context.Context, keys []string) ([]KeyRecord, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	recs, err := l.store.Lookup(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("couldn't look up %d idempotency keys: %w: %w", len(keys), ErrStorage, err)
	}
	return recs, nil
}

// judge asks Entry.Same of each of asks, reading the committed originals
// from the tree of size entries.
func (l *Ledger) judge(ctx context.Context, b *batch, kn *known, asks []pendingAsk, size uint64) error {
	for _, a := range asks {
		leaf := a.leaf
		if leaf == nil {
			n := a.index / tiles.TileWidth
			entries, ok := kn.leaves[n]
			if !ok || a.index%tiles.TileWidth >= uint64(len(entries)) { // not read, or read partial at a smaller size
				if a.index >= size {
					// Another writer sharing the storage committed it
					// since this one last followed: read it from the
					// tree storage commits now.
					st, err := l.loadState(ctx)
					if err != nil {
						return fmt.Errorf("%w: %w", ErrStorage, err)
					}
					if a.index >= st.Size {
						return fmt.Errorf("the key store holds entry %d, beyond the committed size %d", a.index, st.Size)
					}
					size = st.Size
				}
				bt, _ := tiles.BundleFor(n, size)
				var err error
				if entries, err = tiles.ReadEntryBundle(ctx, l.cfg.Storage, bt); err != nil {
					return fmt.Errorf("couldn't read entry %d, which holds the key of entry %d: %w: %w", a.index, a.entry, ErrStorage, err)
				}
				kn.leaves[n] = entries
			}
			leaf = entries[a.index%tiles.TileWidth]
		}
		kn.same[a.sameAsked] = b.entries[a.entry].Same(leaf)
	}
	return nil
}

// pendingLeaf returns the leaf of the entry at index if it is not
// committed yet (it is in the flush under way or in the pool), else nil.
// l.mu is held.
func (l *Ledger) pendingLeaf(index uint64) []byte {
	if index < l.committed.Size {
		return nil
	}
	for _, bs := range [][]*batch{l.inflight, l.pool} {
		for _, b := range bs {
			if index >= b.first && index < b.first+uint64(len(b.leaves)) {
				return b.leaves[index-b.first]
			}
		}
	}
	panic(fmt.Sprintf("ledger: bad index math: key of pending entry %d, which no batch holds", index))
}

// sameAs reports whether entry i of b is the same submission as the entry
// at index, whose leaf hash is hash. l.mu is held.
func (kn *known) sameAs(b *batch, i int, index uint64, hash tiles.Hash) bool {
	if hash == b.sums[i] {
		return true
	}
	if b.entries[i].Same == nil {
		return false
	}
	same, ok := kn.same[sameAsked{entry: i, index: index}]
	if !ok {
		panic(fmt.Sprintf("ledger: entry %d was not compared with entry %d, which holds its key", i, index))
	}
	return same
}

// assign gives b's new entries the next indexes, resolves its duplicates
// against the known keys and queues it; a batch with nothing left to wait
// for resolves at once. An entry whose key holds other content fails it
// with a *KeyConflictError, queueing nothing. It runs again for a batch
// that a conflicting writer displaced (see catchUp). l.mu is held, since
// resolve returned kn.
func (l *Ledger) assign(b *batch, kn *known) error {
	b.first = l.next
	b.results = make([]Result, len(b.entries))
	b.leaves, b.hashes, b.keys, b.names = b.leaves[:0], b.hashes[:0], b.keys[:0], b.names[:0]
	inBatch := map[string]int{}
	waitForPool := false
	for i, e := range b.entries {
		key := b.ikeys[i]
		if key != "" {
			if rec, ok := kn.hit(l, key); ok {
				if !kn.sameAs(b, i, rec.index, rec.hash) {
					return &KeyConflictError{Key: e.Key, Index: rec.index, Entry: i}
				}
				b.results[i] = Result{Index: rec.index, LeafHash: rec.hash, Duplicate: true}
				waitForPool = waitForPool || rec.index >= l.committed.Size
				continue
			}
			if j, ok := inBatch[key]; ok {
				if b.sums[j] != b.sums[i] && (e.Same == nil || !e.Same(b.entries[j].Leaf)) {
					return &KeyConflictError{Key: e.Key, Index: b.results[j].Index, Entry: i}
				}
				b.results[i] = b.results[j]
				b.results[i].Duplicate = true
				continue
			}
			inBatch[key] = i
		}
		idx := b.first + uint64(len(b.leaves))
		b.results[i] = Result{Index: idx, LeafHash: b.sums[i]}
		b.leaves = append(b.leaves, e.Leaf)
		b.hashes = append(b.hashes, b.sums[i])
		b.keys = append(b.keys, key)
		b.names = append(b.names, e.Key)
	}
	if len(b.leaves) == 0 && !waitForPool {
		close(b.done) // every entry is already committed
		return nil
	}
	for i, k := range b.keys {
		if k != "" {
			l.keys[k] = keyRecord{index: b.first + uint64(i), hash: b.hashes[i]}
		}
	}
	l.next += uint64(len(b.leaves))
	l.pool = append(l.pool, b)
	l.pooled += len(b.leaves)
	l.cfg.Metrics.setPending(l.pooled)
	return nil
}

// keyRecords returns the records of the keyed new entries of batches, in
// index order: what a flush of them stores.
func keyRecords(batches []*batch) []KeyRecord {
	var recs []KeyRecord
	for _, b := range batches {
		for i, name := range b.names {
			if name != "" {
				// A copy, so that the record waiting to be stored does
				// not pin the request body the key was cut from.
				recs = append(recs, KeyRecord{Key: strings.Clone(name), Index: b.first + uint64(i), Hash: b.hashes[i]})
			}
		}
	}
	return recs
}

// forget drops from memory the records of recs, which the key store now
// holds. l.mu is held.
func (l *Ledger) forget(recs []KeyRecord) {
	for _, r := range recs {
		k := indexKey(r.Key)
		if rec, ok := l.keys[k]; ok && rec.index == r.Index {
			delete(l.keys, k)
		}
	}
}

func has(m map[string]keyRecord, k string) bool {
	_, ok := m[k]
	return ok
}
