package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Opener {
		dsn := pgtest.New(t)
		return func(t *testing.T) ledger.Storage { return open(t, dsn) }
	})
}

// open opens a Storage on dsn, closed when the test ends.
func open(t testing.TB, dsn string) *Storage {
	t.Helper()
	s, err := Open(t.Context(), Config{DSN: dsn, Logger: testlog.New(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logOf builds flushes of a test log, entry by entry, as the sequencer does.
type logOf struct {
	t       testing.TB
	state   ledger.State
	builder *tiles.Builder
	bundle  []byte // the partial bundle
}

func newLog(t testing.TB) *logOf {
	b, err := tiles.NewBuilder(t.Context(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &logOf{t: t, builder: b}
}

// next returns the flush that appends entries to the log, and makes it the
// log's state as if it had been committed.
func (l *logOf) next(entries ...[]byte) *ledger.Flush {
	f := &ledger.Flush{Old: l.state, Tiles: map[tiles.Tile][]byte{}}
	for _, e := range entries {
		var err error
		if l.bundle, err = tiles.AppendEntry(l.bundle, e); err != nil {
			l.t.Fatal(err)
		}
		l.builder.Append(tiles.LeafHash(e), func(t tiles.Tile, hs []tiles.Hash) { f.Tiles[t] = tiles.MarshalHashTile(hs) })
		if size := l.builder.Size(); size%tiles.TileWidth == 0 {
			f.Tiles[tiles.Tile{Index: size/tiles.TileWidth - 1, Width: tiles.TileWidth, Entries: true}] = l.bundle
			l.bundle = nil
		}
	}
	size := l.builder.Size()
	if bt, ok := tiles.BundleFor(size/tiles.TileWidth, size); ok {
		f.Tiles[bt] = bytes.Clone(l.bundle)
	}
	for t, hs := range l.builder.Edge() {
		f.Tiles[t] = tiles.MarshalHashTile(hs)
	}
	f.New = ledger.State{Size: size, Root: l.builder.Root(), Checkpoint: fmt.Appendf(nil, "test\n%d\n%s\n\n— test sig\n", size, l.builder.Root())}
	l.state = f.New
	return f
}

// entries returns n distinct entries whose text starts with prefix.
func entries(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%s %d", prefix, i)
	}
	return out
}

// TestAppendOnly checks that the triggers refuse every UPDATE, DELETE and
// TRUNCATE on the tile and bundle tables with their message, refuse to
// delete the state or move it backwards, and that the rows are intact after.
func TestAppendOnly(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.New(t))
	l := newLog(t)
	f := l.next(entries("entry", 300)...)
	if err := s.Commit(ctx, f); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ sql, want string }{
		{`UPDATE log_tiles SET data = data WHERE level = 0 AND idx = 0 AND width = 256`, "ledger: tiles are append-only"},
		{`UPDATE log_tiles SET data = '\x00' WHERE false`, "ledger: tiles are append-only"},
		{`DELETE FROM log_tiles WHERE width < 256`, "ledger: tiles are append-only"},
		{`TRUNCATE log_tiles`, "ledger: tiles are append-only"},
		{`UPDATE log_bundles SET data = '\x0000' WHERE idx = 0`, "ledger: entry bundles are append-only"},
		{`DELETE FROM log_bundles`, "ledger: entry bundles are append-only"},
		{`TRUNCATE log_bundles`, "ledger: entry bundles are append-only"},
		{`INSERT INTO log_tiles VALUES (0, 0, 256, decode(repeat('00', 8192), 'hex')) ON CONFLICT (level, idx, width) DO UPDATE SET data = excluded.data`, "ledger: tiles are append-only"},
		{`DELETE FROM log_state`, "ledger: committed states are append-only"},
		{`UPDATE log_state SET size = size - 1`, "ledger: committed states only move forward"},
		{`UPDATE log_state SET root = decode(repeat('00', 32), 'hex')`, "ledger: committed states only move forward"},
	} {
		_, err := s.Pool().Exec(ctx, tc.sql)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.sql, err, tc.want)
		}
	}
	for tl, want := range f.Tiles {
		got, err := s.ReadTile(ctx, tl)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("tile %s after the refused statements: %v, equal %v", tl.Path(), err, bytes.Equal(got, want))
		}
	}
	if st, err := s.State(ctx); err != nil || st.Size != 300 || st.Root != f.New.Root {
		t.Fatalf("state after the refused statements: %+v, %v", st, err)
	}
}

// TestRecommit checks that a flush may carry tiles already committed (as
// unchanged edge tiles are) with their committed bytes, and that a flush
// changing any committed tile, full or partial, fails and changes nothing.
func TestRecommit(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.New(t))
	l := newLog(t)
	f1 := l.next(entries("a", 300)...)
	if err := s.Commit(ctx, f1); err != nil {
		t.Fatal(err)
	}
	partial := tiles.Tile{Index: 1, Width: 300 - 256}
	for name, changed := range map[string]tiles.Tile{
		"full tile":      {Width: tiles.TileWidth},
		"partial tile":   partial,
		"partial bundle": {Index: 1, Width: 300 - 256, Entries: true},
	} {
		t.Run(name, func(t *testing.T) {
			other := bytes.Clone(f1.Tiles[changed])
			other[len(other)-1] ^= 1
			bad := &ledger.Flush{Old: f1.New, New: ledger.State{Size: 301, Root: f1.New.Root, Checkpoint: []byte("x\n")},
				Tiles: map[tiles.Tile][]byte{changed: other}}
			err := s.Commit(ctx, bad)
			if err == nil || errors.Is(err, ledger.ErrConflict) || !strings.Contains(err.Error(), changed.Path()) {
				t.Fatalf("commit changing %s: %v, want an error naming it", changed.Path(), err)
			}
			if st, _ := s.State(ctx); st.Size != 300 {
				t.Fatalf("a refused commit moved the state to %d", st.Size)
			}
		})
	}
	f2 := l.next(entries("b", 5)...)
	for tl, b := range f1.Tiles {
		if _, ok := f2.Tiles[tl]; !ok {
			f2.Tiles[tl] = b // committed already: harmless again
		}
	}
	if err := s.Commit(ctx, f2); err != nil {
		t.Fatalf("a flush repeating committed tiles: %v", err)
	}
	// A flush retried after it was committed (the answer to COMMIT was
	// lost) finds the state moved, and the caller learns it from State.
	if err := s.Commit(ctx, f2); !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("repeated commit: %v, want ErrConflict", err)
	}
	if got, err := s.ReadTile(ctx, partial); err != nil || !bytes.Equal(got, f1.Tiles[partial]) {
		t.Fatalf("the partial tile of size 300 after later commits: %v", err)
	}
}
