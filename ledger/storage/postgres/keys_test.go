package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/internal/pgschema"
	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/keyindex"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

var _ ledger.KeyStore = (*Storage)(nil)

// committedKeys is a Storage as the contract suite's KeyStore: its Store
// commits a flush of to-from test entries carrying recs, from the state
// committed at size from, so that the suite's stores are Commits. The test
// log is kept across reopens.
type committedKeys struct {
	*Storage
	t   *testing.T
	log *logOf
}

func (c committedKeys) Store(ctx context.Context, from, to uint64, recs []ledger.KeyRecord) error {
	if from != c.log.state.Size { // a flush from a state that is not the committed one
		f := &ledger.Flush{Old: ledger.State{Size: from, Root: tiles.Hash{1}},
			New: ledger.State{Size: to, Root: tiles.Hash{2}, Checkpoint: []byte("x\n")}, Keys: recs}
		return c.Commit(ctx, f)
	}
	saved := *c.log
	f := c.log.next(entries(fmt.Sprint("entries from ", from), int(to-from))...)
	f.Keys = recs
	err := c.Commit(ctx, f)
	if err != nil { // the test log goes back to the committed state
		b, berr := tiles.NewBuilder(ctx, saved.state.Size, tiles.HashTiles(c.Storage))
		if berr != nil {
			c.t.Fatal(berr)
		}
		*c.log = saved
		c.log.bundle = bytes.Clone(saved.bundle)
		c.log.builder = b
	}
	return err
}

// TestKeyStore runs the KeyStore contract suite over Commits.
func TestKeyStore(t *testing.T) {
	storagetest.RunKeyStore(t, func(t *testing.T) storagetest.KeyStoreOpener {
		dsn := pgtest.New(t)
		l := newLog(t)
		return func(t *testing.T) ledger.KeyStore { return committedKeys{Storage: open(t, dsn), t: t, log: l} }
	}, 30_000)
}

// TestCommitKeys checks that a flush logging a key the log holds fails with
// ErrKeyLogged and commits nothing, and that Store is refused.
func TestCommitKeys(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.New(t))
	l := newLog(t)
	f := l.next(entries("a", 3)...)
	f.Keys = storagetest.KeyRecords("k", 0, 3)
	if err := s.Commit(ctx, f); err != nil {
		t.Fatal(err)
	}
	f2 := l.next(entries("b", 2)...)
	f2.Keys = storagetest.KeyRecords("k", 3, 2)
	f2.Keys[1].Key = "k-1"
	if err := s.Commit(ctx, f2); !errors.Is(err, ErrKeyLogged) {
		t.Fatalf("a flush logging k-1 again: %v, want ErrKeyLogged", err)
	}
	if st, _ := s.State(ctx); st.Size != 3 {
		t.Fatalf("the refused flush moved the state to %d", st.Size)
	}
	if w, err := s.Watermark(ctx); err != nil || w != 3 {
		t.Fatalf("watermark %d, %v; want 3", w, err)
	}
	for _, tc := range []struct{ sql, want string }{
		{`UPDATE log_keys SET idx = 7`, "ledger: idempotency keys are append-only"},
		{`DELETE FROM log_keys WHERE false`, "ledger: idempotency keys are append-only"},
		{`TRUNCATE log_keys`, "ledger: idempotency keys are append-only"},
		{`DELETE FROM log_keys_backfill`, "ledger: key backfills are append-only"},
		{`UPDATE log_keys_backfill SET size = size - 1`, "ledger: key backfills only move forward"},
	} {
		if _, err := s.Pool().Exec(ctx, tc.sql); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.sql, err, tc.want)
		}
	}
	if err := s.Store(ctx, 3, 4, nil); !errors.Is(err, ErrStoreNotCalled) {
		t.Fatalf("Store: %v, want ErrStoreNotCalled", err)
	}
}

// TestBackfill writes a log under the schema that had no key index, then
// opens it: Open refuses it without KeyOf, and with it fills in every key
// from the bundles.
func TestBackfill(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	old := open(t, dsn)
	steps, err := pgschema.Files(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	// A database of the first schema, written by a Storage of that time,
	// whose flushes carried no keys.
	if _, err := old.Pool().Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	if _, err := (pgschema.Schema{Component: "log", Steps: steps[:1]}).Migrate(ctx, old.Pool()); err != nil {
		t.Fatal(err)
	}
	l := newLog(t)
	var want []ledger.KeyRecord
	for _, n := range []int{300, 20_000, 5} {
		var leaves [][]byte
		for range n {
			i := l.state.Size + uint64(len(leaves))
			leaf := fmt.Appendf(nil, "key-%d|payload", i)
			if i%4 == 3 {
				leaf = fmt.Appendf(nil, "no key %d", i)
			} else {
				want = append(want, ledger.KeyRecord{Key: fmt.Sprint("key-", i), Index: i, Hash: tiles.LeafHash(leaf)})
			}
			leaves = append(leaves, leaf)
		}
		if err := old.Commit(ctx, l.next(leaves...)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(ctx, Config{DSN: dsn, Logger: testlog.New(t)}); !errors.Is(err, ErrBackfill) {
		t.Fatalf("Open of a log needing a backfill, without KeyOf: %v, want ErrBackfill", err)
	}
	s, err := Open(ctx, Config{DSN: dsn, Logger: testlog.New(t), KeyOf: storagetest.KeyBeforeBar})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if w, err := s.Watermark(ctx); err != nil || w != l.state.Size {
		t.Fatalf("watermark after the backfill: %d, %v; want %d", w, err, l.state.Size)
	}
	keys := make([]string, len(want))
	for i, r := range want {
		keys[i] = r.Key
	}
	got, err := s.Lookup(ctx, append(keys, "key-3", "no key 3"))
	if err != nil || len(got) != len(want) {
		t.Fatalf("lookup of every key: %d found, %v; want %d", len(got), err, len(want))
	}
	byKey := map[string]ledger.KeyRecord{}
	for _, r := range got {
		byKey[r.Key] = r
	}
	for _, r := range want {
		if byKey[r.Key] != r {
			t.Fatalf("key %q: %+v, want %+v", r.Key, byKey[r.Key], r)
		}
	}
	// New flushes carry their keys; a reopen has nothing left to fill in.
	f := l.next([]byte("key-new|payload"))
	f.Keys = []ledger.KeyRecord{{Key: "key-new", Index: f.Old.Size, Hash: tiles.LeafHash([]byte("key-new|payload"))}}
	if err := s.Commit(ctx, f); err != nil {
		t.Fatal(err)
	}
	if w, err := open(t, dsn).Watermark(ctx); err != nil || w != l.state.Size {
		t.Fatalf("watermark after a reopen: %d, %v; want %d", w, err, l.state.Size)
	}
	// The key index verifies against the log, and a tampered row (the
	// append-only trigger dropped first) is found.
	verify := func() *keyindex.Report {
		r, err := keyindex.Verify(ctx, s, index.StorageLog(s), 0, l.state.Size, storagetest.KeyBeforeBar)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := verify(); r.Total != 0 || r.Keys != uint64(len(want))+1 {
		t.Fatalf("verify: %+v", r)
	}
	if _, err := s.Pool().Exec(ctx, `ALTER TABLE log_keys DISABLE TRIGGER log_keys_append_only;
		UPDATE log_keys SET idx = 1 WHERE key = 'key-2'`); err != nil {
		t.Fatal(err)
	}
	if r := verify(); r.Total != 1 || r.Mismatches[0].String() != `entry 2: key "key-2" is recorded at index 1` {
		t.Fatalf("verify of a tampered row: %+v", r)
	}
}
