package keyindex

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/tiles"
)

// KeyOf returns the idempotency key of a leaf, "" for an entry without one
// (ledger.Config.KeyOf; event.KeyOf for the ledger's events).
type KeyOf func(leaf []byte) (string, error)

// Report is the outcome of Verify.
type Report struct {
	// Watermark is the key store's watermark, Checked how many of the
	// entries below it and below the size verified were read (keyed or
	// not), and Keys how many of those carry a key.
	Watermark, Checked, Keys uint64
	index.Problems
}

// verifyBundles is how many entry bundles Verify looks up at a time.
const verifyBundles = 16

// Verify checks the key store ks against the entries of the log l from
// minimum, its minimum index (0 for a log never pruned, whose bundles
// below it are gone), up to size: every keyed entry below both the
// watermark and size must be found by Lookup with its index and leaf
// hash. It works for any ledger.KeyStore. Entries at or above the
// watermark are not checked (the ledger holds their keys in memory until
// it stores them).
func Verify(ctx context.Context, ks ledger.KeyStore, l index.Log, minimum, size uint64, keyOf KeyOf) (*Report, error) {
	w, err := ks.Watermark(ctx)
	if err != nil {
		return nil, err
	}
	r := &Report{Watermark: w}
	end := min(w, size)
	for n := minimum / tiles.TileWidth; n*tiles.TileWidth < end; n += verifyBundles {
		recs, err := keysOf(ctx, l, n, n+verifyBundles, size, end, keyOf)
		if err != nil {
			return nil, err
		}
		if err := r.check(ctx, ks, recs); err != nil {
			return nil, err
		}
		r.Checked = min(end, (n+verifyBundles)*tiles.TileWidth)
	}
	return r, nil
}

// check looks up the records the log yields and reports every one that ks
// does not hold as it is.
func (r *Report) check(ctx context.Context, ks ledger.KeyStore, want []ledger.KeyRecord) error {
	keys := make([]string, len(want))
	for i, rec := range want {
		keys[i] = rec.Key
	}
	got, err := ks.Lookup(ctx, keys)
	if err != nil {
		return err
	}
	stored := make(map[string]ledger.KeyRecord, len(got))
	for _, rec := range got {
		stored[rec.Key] = rec
	}
	r.Keys += uint64(len(want))
	for _, rec := range want {
		s, ok := stored[rec.Key]
		switch {
		case !ok:
			r.Add(rec.Index, "key %q is not in the key index", rec.Key)
		case s.Index != rec.Index:
			r.Add(rec.Index, "key %q is recorded at index %d", rec.Key, s.Index)
		case s.Hash != rec.Hash:
			r.Add(rec.Index, "key %q is recorded with leaf hash %s, the entry's is %s", rec.Key, s.Hash, rec.Hash)
		}
	}
	return nil
}

// keysOf returns the key records of the entries below end of bundles
// [first, last) of the tree of size entries.
func keysOf(ctx context.Context, l index.Log, first, last, size, end uint64, keyOf KeyOf) ([]ledger.KeyRecord, error) {
	var recs []ledger.KeyRecord
	for n := first; n < last && n*tiles.TileWidth < end; n++ {
		entries, err := l.Bundle(ctx, n, size)
		if err != nil {
			return nil, fmt.Errorf("couldn't read entry bundle %d: %w", n, err)
		}
		for j, leaf := range entries {
			i := n*tiles.TileWidth + uint64(j)
			if i >= end {
				break
			}
			key, err := keyOf(leaf)
			if err != nil {
				return nil, fmt.Errorf("couldn't read the key of entry %d: %w", i, err)
			}
			if key != "" {
				recs = append(recs, ledger.KeyRecord{Key: key, Index: i, Hash: tiles.LeafHash(leaf)})
			}
		}
	}
	return recs, nil
}

// rebuildBundles is how many entry bundles one Store of Rebuild covers.
const rebuildBundles = 64

// Rebuild deletes every record of s and stores again the keys of the first
// size entries of the log l, leaving the watermark at size. Run it with the
// ledger stopped: a running ledger's next Store would find the watermark
// moved underneath it.
func Rebuild(ctx context.Context, s *Store, l index.Log, size uint64, keyOf KeyOf, log *slog.Logger) error {
	if err := s.reset(ctx); err != nil {
		return err
	}
	for n := uint64(0); n*tiles.TileWidth < size; n += rebuildBundles {
		recs, err := keysOf(ctx, l, n, n+rebuildBundles, size, size, keyOf)
		if err != nil {
			return err
		}
		from, to := n*tiles.TileWidth, min(size, (n+rebuildBundles)*tiles.TileWidth)
		if err := s.Store(ctx, from, to, recs); err != nil {
			return err
		}
		log.Debug("key index rebuilt", "size", to)
	}
	return nil
}
