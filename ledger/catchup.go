package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/ledger-dev/ledger/tiles"
)

// catchUp follows a commit made by another writer sharing the storage
// (several instances on one database): it loads the new committed state,
// checks that its checkpoint matches it and that the tree it commits to is
// an append-only extension of ours, and re-sequences the displaced batches
// (and the pool) after the other writer's entries. It reads no bundle of
// theirs: their keys are in the key store, which their Commit wrote, and
// the displaced keys are looked up there again, so that an entry the other
// writer already committed under the same key resolves to it. Only a
// Storage that keeps the key index can be shared so. The flush goroutine
// calls it; on error nothing has changed.
func (l *Ledger) catchUp(ctx context.Context, displaced []*batch) error {
	if !l.ownStore {
		return errors.New("another writer moved the log, but the Storage does not keep the key index: a log shared by writers needs one that does")
	}
	l.mu.Lock()
	old := l.committed
	l.mu.Unlock()
	st, err := l.loadState(ctx)
	if err != nil {
		return err
	}
	if st.Size < old.Size {
		return fmt.Errorf("the committed log shrank from %d to %d entries", old.Size, st.Size)
	}
	if err := l.checkFollowed(ctx, old, st); err != nil {
		return err
	}
	seq, _, err := l.rebuild(ctx, st, st.Size)
	if err != nil {
		return err
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	pending := append(displaced, l.pool...)
	l.pool, l.pooled, l.inflight = nil, 0, nil
	l.dropPending(pending, old.Size)
	l.committed, l.next, l.seq, l.water = st, st.Size, seq, st.Size
	l.reloads++
	l.cfg.Metrics.setSize(st.Size)
	for _, b := range pending {
		kn, err := l.resolve(ctx, b)
		if err == nil {
			err = l.assign(b, kn)
		}
		if err != nil {
			b.err = fmt.Errorf("entries were not committed: %w", err)
			close(b.done)
		}
	}
	l.log.Debug("followed another writer", "from", old.Size, "to", st.Size, "requeued", l.pooled)
	return nil
}

// checkFollowed checks that st, committed by another writer, carries the
// log's signed checkpoint of its size and root, and that its tree is
// consistent with old: a writer sharing the storage must not fork the log.
func (l *Ledger) checkFollowed(ctx context.Context, old, st State) error {
	if err := l.checkCheckpoint(st); err != nil {
		return err
	}
	proof, err := tiles.ConsistencyProof(ctx, tiles.HashTiles(l.cfg.Storage), old.Size, st.Size)
	if err != nil {
		return fmt.Errorf("couldn't prove size %d consistent with %d: %w", st.Size, old.Size, err)
	}
	if err := tiles.VerifyConsistency(old.Size, old.Root, st.Size, st.Root, proof); err != nil {
		return fmt.Errorf("the other writer forked the log: %w", err)
	}
	return nil
}

// dropPending forgets the in-memory key records that batches gave their
// entries at or above size: those indexes were never committed. l.mu is
// held.
func (l *Ledger) dropPending(batches []*batch, size uint64) {
	for _, b := range batches {
		for _, k := range b.keys {
			if rec, ok := l.keys[k]; ok && k != "" && rec.index >= size {
				delete(l.keys, k)
			}
		}
	}
}
