package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/tiles"
)

// sequencer holds the in-memory right edge of the committed tree: the builder
// with the partial tile rows and the partial entry bundle. Only the flush
// goroutine touches it.
type sequencer struct {
	builder *tiles.Builder
	bundle  []byte // the partial entry bundle's bytes
	inBund  int    // entries in it
}

// recover loads the committed state, checks that the stored right edge
// recomputes its root, loads the idempotency keys of the entries from the
// key store's watermark on (what the store does not hold yet) and resets
// the pool counters. A new log gets a signed checkpoint of size 0. It reads
// the right edge of the tree and the bundles from the watermark, never the
// whole log.
func (l *Ledger) recover(ctx context.Context) (*sequencer, error) {
	st, err := l.loadState(ctx)
	if err != nil {
		return nil, err
	}
	if st.Checkpoint == nil {
		if st, err = l.create(ctx, st); err != nil {
			return nil, err
		}
	}
	if err := l.checkCheckpoint(st); err != nil {
		return nil, err
	}
	if l.per != nil {
		l.per.mu.Lock() // no Store moves the watermark while we read from it
		defer l.per.mu.Unlock()
	}
	water, err := l.watermark(ctx, st.Size)
	if err != nil {
		return nil, err
	}
	seq, recs, err := l.rebuild(ctx, st, water)
	if err != nil {
		return nil, err
	}
	keys := make(map[string]keyRecord, len(recs))
	for _, r := range recs {
		keys[indexKey(r.Key)] = keyRecord{index: r.Index, hash: r.Hash}
	}
	l.mu.Lock()
	l.committed, l.next, l.keys, l.water, l.inflight = st, st.Size, keys, water, nil
	l.reloads++
	first := l.reloads == 1
	if !l.ownStore {
		l.unstored = recs
	}
	l.mu.Unlock()
	l.cfg.Metrics.setSize(st.Size)
	if first {
		l.log.Info("log opened", "origin", l.origin, "size", st.Size, "root", st.Root.String(), "keys_from", water)
	} else { // after a failed flush, which was logged
		l.log.Debug("committed state reloaded", "size", st.Size, "root", st.Root.String(), "keys_from", water)
	}
	return seq, nil
}

// create commits the empty log over st, the zero state of a new log; if
// another instance created it first, it returns what that one committed.
func (l *Ledger) create(ctx context.Context, st State) (State, error) {
	if st.Size != 0 {
		return State{}, fmt.Errorf("committed state of size %d has no checkpoint", st.Size)
	}
	empty := State{Root: tiles.EmptyRoot}
	var err error
	if empty.Checkpoint, err = l.sign(0, tiles.EmptyRoot); err != nil {
		return State{}, err
	}
	switch err := l.cfg.Storage.Commit(ctx, &Flush{Old: st, New: empty}); {
	case errors.Is(err, ErrConflict): // another instance created it first
		return l.loadState(ctx)
	case err != nil:
		return State{}, fmt.Errorf("couldn't create the log: %w", err)
	}
	return empty, nil
}

// watermark returns the key store's watermark for the committed size: a
// Storage that keeps the key index holds the keys of every committed entry.
func (l *Ledger) watermark(ctx context.Context, size uint64) (uint64, error) {
	if l.ownStore {
		return size, nil
	}
	w, err := l.store.Watermark(ctx)
	if err != nil {
		return 0, fmt.Errorf("couldn't read the key store's watermark: %w", err)
	}
	if w > size {
		return 0, fmt.Errorf("the key store's watermark %d is beyond the committed size %d: is it another log's?", w, size)
	}
	return w, nil
}

// loadState loads the committed state from storage.
func (l *Ledger) loadState(ctx context.Context) (State, error) {
	st, err := l.cfg.Storage.State(ctx)
	if err != nil {
		return State{}, fmt.Errorf("couldn't load the committed state: %w", err)
	}
	return st, nil
}

// rebuild returns the sequencer of the committed state st, read from
// storage, after checking that the stored right edge recomputes st's root,
// and the key records of the entries from index from up to st.Size.
func (l *Ledger) rebuild(ctx context.Context, st State, from uint64) (*sequencer, []KeyRecord, error) {
	builder, err := tiles.NewBuilder(ctx, st.Size, tiles.HashTiles(l.cfg.Storage))
	if err != nil {
		return nil, nil, err
	}
	if root := builder.Root(); root != st.Root {
		return nil, nil, fmt.Errorf("stored tiles recompute root %s for size %d, but the committed state says %s", root, st.Size, st.Root)
	}
	seq := &sequencer{builder: builder}
	var recs []KeyRecord
	if seq.bundle, seq.inBund, recs, err = l.scanKeys(ctx, from, st.Size); err != nil {
		return nil, nil, err
	}
	return seq, recs, nil
}

// scanKeys returns the key records of the entries from index from up to
// size, reading their bundles from storage, and the partial bundle at size
// (nil if size is a multiple of the bundle width), which it reads even when
// from is size.
func (l *Ledger) scanKeys(ctx context.Context, from, size uint64) (partial []byte, n int, recs []KeyRecord, err error) {
	for b := from / tiles.TileWidth; b < tiles.BundleCount(size); b++ {
		bt, _ := tiles.BundleFor(b, size)
		entries, err := tiles.ReadEntryBundle(ctx, l.cfg.Storage, bt)
		if err != nil {
			return nil, 0, nil, err
		}
		for i, e := range entries {
			index := b*tiles.TileWidth + uint64(i)
			if index < from {
				continue
			}
			k, err := l.cfg.KeyOf(e)
			if err != nil {
				return nil, 0, nil, fmt.Errorf("entry %d: %w", index, err)
			}
			if k != "" {
				recs = append(recs, KeyRecord{Key: k, Index: index, Hash: tiles.LeafHash(e)})
			}
		}
		if !bt.Full() {
			// Encoded again, since the sequencer appends to it: not
			// storage's memory. The entries came from a bundle, so none
			// is too large for one.
			for _, e := range entries {
				partial, _ = tiles.AppendEntry(partial, e)
			}
			n = len(entries)
		}
	}
	return partial, n, recs, nil
}

// ErrBadCheckpoint means the committed state's checkpoint is not the log
// key's signature of the state's origin, size and root: the state was
// changed outside the ledger (or restored from another log). Nothing of it
// is published.
var ErrBadCheckpoint = errors.New("the committed checkpoint is not the log's signature of the committed size and root")

// checkCheckpoint checks that st.Checkpoint is the log's signed checkpoint
// of st's size and root, before anything is published from it. The stored
// tiles are checked against st.Root by rebuild. Ed25519 signatures are
// deterministic (RFC 8032), so the one checkpoint the log key signs for
// (origin, size, root) is the one a flush committed: comparing the stored
// note with it checks the signature, the origin, the size and the root at
// once, with no verifier key needed.
func (l *Ledger) checkCheckpoint(st State) error {
	want, err := l.sign(st.Size, st.Root)
	if err != nil {
		return err
	}
	if !bytes.Equal(st.Checkpoint, want) {
		cp, perr := tiles.ParseCheckpoint(noteText(st.Checkpoint))
		if perr != nil {
			return fmt.Errorf("%w: the state says size %d, root %s, and holds no checkpoint one can read (%v); restore the state from a backup, or run verifier audit on the log", ErrBadCheckpoint, st.Size, st.Root, perr)
		}
		return fmt.Errorf("%w: the state says size %d, root %s, but its checkpoint is %s size %d root %s, or has another signature; restore the state from a backup, or run verifier audit on the log",
			ErrBadCheckpoint, st.Size, st.Root, cp.Origin, cp.Size, cp.Hash)
	}
	return nil
}

// noteText returns the text of a signed note: what precedes its blank line.
func noteText(n []byte) []byte {
	if i := bytes.Index(n, []byte("\n\n")); i >= 0 {
		return n[:i+1]
	}
	return n
}

// sign returns a checkpoint note for (size, root) signed with the log key.
func (l *Ledger) sign(size uint64, root tiles.Hash) ([]byte, error) {
	text := tiles.Checkpoint{Origin: l.origin, Size: size, Hash: root}.Marshal()
	cp, err := note.Sign(&note.Note{Text: string(text)}, l.cfg.Signer)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign checkpoint: %w", err)
	}
	return cp, nil
}

// openNote checks that raw is a checkpoint note of our log signed with our
// key, with Config.Verifier or else by signing its text again (Ed25519
// signatures are deterministic, so that gives its signature line, which
// cosignatures follow), and returns the checkpoint.
func (l *Ledger) openNote(raw []byte) (tiles.Checkpoint, error) {
	cp, err := tiles.ParseNoteCheckpoint(raw)
	if err != nil {
		return tiles.Checkpoint{}, err
	}
	if cp.Origin != l.origin {
		return tiles.Checkpoint{}, fmt.Errorf("it is of log %q, not %q", cp.Origin, l.origin)
	}
	if l.cfg.Verifier != nil {
		if _, err := note.Open(raw, note.VerifierList(l.cfg.Verifier)); err != nil {
			return tiles.Checkpoint{}, fmt.Errorf("size %d is not signed with this log's key: %w", cp.Size, err)
		}
		return cp, nil
	}
	ours, err := l.sign(cp.Size, cp.Hash)
	if err != nil {
		return tiles.Checkpoint{}, err
	}
	if !bytes.HasPrefix(raw, ours) {
		return tiles.Checkpoint{}, fmt.Errorf("size %d is not signed with this log's key", cp.Size)
	}
	return cp, nil
}

// run is the flush loop: one flush at a time takes the whole pool.
func (l *Ledger) run() {
	defer close(l.done)
	for range l.wake {
		for {
			l.mu.Lock()
			batches, closed := l.pool, l.closed
			l.pool, l.pooled, l.inflight = nil, 0, batches
			l.mu.Unlock()
			l.cfg.Metrics.setPending(0)
			if len(batches) == 0 {
				if closed {
					return
				}
				break
			}
			l.flushAndResolve(batches)
		}
	}
}

// flushAndResolve commits batches and resolves their futures. If the commit
// fails, every pending batch fails with it and the sequencer is rebuilt from
// what storage says is committed.
func (l *Ledger) flushAndResolve(batches []*batch) {
	ctx := context.Background()
	start := time.Now()
	f, n, err := l.flush(ctx, batches)
	if err == nil {
		st := f.New
		l.mu.Lock()
		l.committed, l.inflight = st, nil
		if l.ownStore {
			// Commit stored the keys: the store answers for them now.
			l.forget(f.Keys)
			l.water = st.Size
		} else {
			l.unstored = append(l.unstored, f.Keys...)
			l.per.kick()
		}
		l.mu.Unlock()
		for _, b := range batches {
			close(b.done)
		}
		l.cfg.Metrics.flushed(n, time.Since(start), st.Size)
		l.pub.committed()
		return
	}
	if errors.Is(err, ErrConflict) {
		// Another instance committed first. Nothing of this flush is
		// stored; follow that instance's entries and sequence ours after
		// them.
		cerr := l.catchUp(ctx, batches)
		if cerr == nil {
			l.cfg.Metrics.conflict()
			return
		}
		err = fmt.Errorf("%w; then couldn't follow the other writer: %w", err, cerr)
	}
	l.flushLog.Do(func() {
		l.log.Error("flush failed; failing pending entries and reloading the committed state (more failures within 10s are not logged)", "err", err, "entries", n)
	})
	l.mu.Lock()
	l.lastFailure = l.cfg.Clock()
	failed := append(batches, l.pool...)
	l.pool, l.pooled, l.inflight = nil, 0, nil
	l.failed = errRecovering
	// None of these entries is pending any more: an Add resolving its keys
	// meanwhile must not find them in memory (the reload, which may take
	// long, replaces memory with what storage committed).
	l.dropPending(failed, l.committed.Size)
	l.next = l.committed.Size
	l.reloads++
	l.mu.Unlock()
	l.cfg.Metrics.setRecovering(true)
	// Reload before failing the callers, so that their retries meet a
	// sequencer that knows what storage really committed: with
	// persist-but-report-failure, a retried key resolves to its entry.
	// If storage cannot answer yet (a database restarting), the callers
	// fail now and the reload goes on in the background of this
	// goroutine: appends meanwhile get errRecovering, a pushback.
	rerr := l.reload(ctx)
	for _, b := range failed {
		b.err = fmt.Errorf("entries were not committed: %w: %w", ErrStorage, err)
		close(b.done)
	}
	if rerr != nil {
		l.retryReload(ctx, rerr)
	}
}

// errRecovering is the error of appends while the sequencer reloads the
// committed state after a failed flush. It says nothing of the storage
// error, which the log holds: it reaches clients, and storage errors name
// server paths and hosts.
var errRecovering = fmt.Errorf("sequencer is recovering from a storage failure; retry shortly: %w", ErrPushback)

// reload rebuilds the sequencer from the committed state in storage and,
// if that worked, lets appends in again. The flush goroutine calls it.
func (l *Ledger) reload(ctx context.Context) error {
	seq, err := l.recover(ctx)
	if err != nil {
		l.cfg.Metrics.recoveryFailed()
		return err
	}
	l.mu.Lock()
	l.seq, l.failed = seq, nil
	l.mu.Unlock()
	l.cfg.Metrics.setRecovering(false)
	l.pub.committed() // what storage committed may not be published yet
	return nil
}

// Bounds of the delay between two reloads after a failed flush: short
// enough that a database back from a restart is used again within about a
// second, long enough that a storage that stays down is not hammered.
const (
	minReloadDelay = 50 * time.Millisecond
	maxReloadDelay = time.Second
)

// retryReload reloads the committed state with backoff until it works or
// the ledger is closed. err is the first reload's error. It logs the first
// failure, then at most one line every 10 s, and the recovery.
func (l *Ledger) retryReload(ctx context.Context, err error) {
	l.log.Error("couldn't reload the committed state after a failed flush; sequencing waits and retries", "err", err)
	start, logged, attempts := time.Now(), time.Now(), 1
	for delay := minReloadDelay; ; delay = min(2*delay, maxReloadDelay) {
		select {
		case <-time.After(delay):
		case <-l.closing:
			l.log.Warn("closed while waiting for storage to come back", "attempts", attempts)
			return
		}
		attempts++
		if err = l.reload(ctx); err == nil {
			l.log.Info("sequencing resumed after a storage failure", "attempts", attempts, "after", time.Since(start).Round(time.Millisecond).String())
			return
		}
		if time.Since(logged) >= 10*time.Second {
			l.log.Error("still couldn't reload the committed state; retrying", "err", err, "attempts", attempts)
			logged = time.Now()
		}
	}
}

// flush builds the tiles and bundles for batches, signs the new checkpoint
// and commits. It returns the flush committed and the number of entries.
func (l *Ledger) flush(ctx context.Context, batches []*batch) (*Flush, int, error) {
	l.mu.Lock()
	old := l.committed
	l.mu.Unlock()
	seq := l.seq
	f := &Flush{Old: old, Tiles: map[tiles.Tile][]byte{}, Keys: keyRecords(batches)}
	n := 0
	for _, b := range batches {
		for i, leaf := range b.leaves {
			if got := seq.builder.Size(); got != b.first+uint64(i) {
				panic(fmt.Sprintf("ledger: bad index math: entry %d of a batch from %d lands at %d", i, b.first, got))
			}
			if seq.bundle == nil {
				// Room for a bundle of entries like this one, so that filling
				// it does not regrow and copy it eight times.
				seq.bundle = make([]byte, 0, min(tiles.TileWidth*(len(leaf)+2)*5/4, 4<<20))
			}
			var err error
			if seq.bundle, err = tiles.AppendEntry(seq.bundle, leaf); err != nil {
				return nil, n, err
			}
			seq.inBund++
			if seq.inBund == tiles.TileWidth {
				bt := tiles.Tile{Index: seq.builder.Size() / tiles.TileWidth, Width: tiles.TileWidth, Entries: true}
				f.Tiles[bt] = seq.bundle
				seq.bundle, seq.inBund = nil, 0
			}
			seq.builder.Append(b.hashes[i], func(t tiles.Tile, hs []tiles.Hash) {
				f.Tiles[t] = tiles.MarshalHashTile(hs)
			})
			n++
		}
	}
	size := seq.builder.Size()
	if seq.inBund > 0 {
		bt, _ := tiles.BundleFor(size/tiles.TileWidth, size)
		f.Tiles[bt] = append([]byte(nil), seq.bundle...)
	}
	for t, hs := range seq.builder.Edge() {
		f.Tiles[t] = tiles.MarshalHashTile(hs)
	}
	root := seq.builder.Root()
	cp, err := l.sign(size, root)
	if err != nil {
		return nil, n, err
	}
	f.New = State{Size: size, Root: root, Checkpoint: cp}
	// At this point nothing of the flush is stored: a crash loses only
	// entries that nobody was told about.
	if err := l.cfg.Storage.Commit(ctx, f); err != nil {
		return nil, n, fmt.Errorf("couldn't commit size %d: %w", size, err)
	}
	// At this point the flush is durable: a crash now keeps every entry of
	// it, and the futures may resolve.
	return f, n, nil
}
