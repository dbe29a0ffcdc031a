package ledger

import (
	"context"

	"github.com/ledger-dev/ledger/tiles"
)

// KeyRecord is where the entry holding an idempotency key landed: what a
// resend of that key is answered with.
type KeyRecord struct {
	// Key is the entry's idempotency key (Entry.Key), never "".
	Key string
	// Index is the entry's index in the log.
	Index uint64
	// Hash is the entry's leaf hash.
	Hash tiles.Hash
}

// KeyStore is the persistent idempotency-key index: a projection of the
// keys of the log's entries [0, Watermark), rebuildable from the entry
// bundles. The ledger keeps in memory only the keys of entries at or above
// the watermark, so its memory does not grow with the log.
//
// Contract:
//   - Watermark returns W such that the record of every keyed entry of
//     [0, W) is stored. A new store has watermark 0. W never exceeds the
//     log's committed size, and never moves backwards.
//   - Lookup returns the stored records of those of keys that are stored,
//     in any order; a key that is not stored is simply absent. It sees
//     every record whose Store (or, for a store kept by Commit, whose
//     Commit) returned before it was called.
//   - Store durably adds recs, the records of every keyed entry of
//     [from, to), and moves the watermark from from to to, atomically: after
//     a crash either all of recs and the new watermark are stored, or none
//     and the old one. It fails, changing nothing, if the watermark is not
//     from. A key already stored at another index is an error: the log
//     holds each key once.
//
// A Storage that also implements KeyStore keeps the key index itself: its
// Commit stores Flush.Keys in the same transaction as the flush, its
// Watermark is always the committed size, and the ledger never calls its
// Store.
type KeyStore interface {
	Watermark(ctx context.Context) (uint64, error)
	Lookup(ctx context.Context, keys []string) ([]KeyRecord, error)
	Store(ctx context.Context, from, to uint64, recs []KeyRecord) error
}
