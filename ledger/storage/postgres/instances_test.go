package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// TestConcurrentCommits runs two Storage instances (two pools, as two ledger
// processes) over one database, committing different flushes from the same
// old state at the same moment: exactly one wins each round, the other gets
// ErrConflict, and the database holds the winners' tiles and nothing else.
// The first round races on creating the state row, the later ones on moving
// it.
func TestConcurrentCommits(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	stores := []*Storage{open(t, dsn), open(t, dsn)}
	logs := []*logOf{newLog(t), newLog(t)}
	var want [][]byte // the winners' entries, in order
	written := map[tiles.Tile][]byte{}
	for round := range 8 {
		var flushes [2]*ledger.Flush
		var batches [2][][]byte
		for i := range 2 {
			// Different sizes, so that the two flushes write some tiles
			// under the same keys with different bytes.
			batches[i] = entries(fmt.Sprintf("round %d writer %d", round, i), 1+round*41+i*7)
			flushes[i] = logs[i].next(batches[i]...)
		}
		errs := commitTogether(t, stores, flushes[:])
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: both commits from size %d succeeded", round, flushes[0].Old.Size)
			case !errors.Is(err, ledger.ErrConflict):
				t.Fatalf("round %d: writer %d: %v, want nil or ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: both commits failed with ErrConflict", round)
		}
		want = append(want, batches[winner]...)
		for tl, b := range flushes[winner].Tiles {
			written[tl] = b
		}
		for i, s := range stores {
			st, err := s.State(ctx)
			if err != nil || st.Size != flushes[winner].New.Size || st.Root != flushes[winner].New.Root {
				t.Fatalf("round %d: instance %d sees state %d/%s (%v), want the winner's %d", round, i, st.Size, st.Root, err, flushes[winner].New.Size)
			}
		}
		logs[1-winner] = follow(t, stores[1-winner], flushes[winner].New)
	}
	checkHolds(t, stores[0], written, want)
}

// commitTogether starts the commits while a third session holds log_state
// locked, waits until every one of them is blocked on that lock, and then
// releases it, so that they reach the compare-and-swap at the same moment.
func commitTogether(t *testing.T, stores []*Storage, flushes []*ledger.Flush) []error {
	ctx := t.Context()
	holder, err := stores[0].Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(context.Background())
	if _, err := holder.Exec(ctx, `LOCK TABLE log_state IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(flushes))
	var wg sync.WaitGroup
	for i := range flushes {
		wg.Go(func() { errs[i] = stores[i].Commit(ctx, flushes[i]) })
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		var waiting int
		err := stores[0].Pool().QueryRow(ctx,
			`SELECT count(*) FROM pg_locks WHERE relation = 'log_state'::regclass AND NOT granted`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == len(flushes) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d commits are waiting for the state row", waiting, len(flushes))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return errs
}

// follow returns a log that continues from st, committed by another writer,
// rebuilt from what s holds: what a ledger does after ErrConflict.
func follow(t *testing.T, s *Storage, st ledger.State) *logOf {
	ctx := t.Context()
	b, err := tiles.NewBuilder(ctx, st.Size, tiles.HashTiles(s))
	if err != nil {
		t.Fatal(err)
	}
	if b.Root() != st.Root {
		t.Fatalf("stored tiles recompute root %s at size %d, committed %s", b.Root(), st.Size, st.Root)
	}
	l := &logOf{t: t, state: st, builder: b}
	if bt, ok := tiles.BundleFor(st.Size/tiles.TileWidth, st.Size); ok {
		if l.bundle, err = s.ReadTile(ctx, bt); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// checkHolds checks that the tables hold exactly the tiles in written, and
// that the committed tree is the tree of entries.
func checkHolds(t *testing.T, s *Storage, written map[tiles.Tile][]byte, entries [][]byte) {
	t.Helper()
	ctx := t.Context()
	rows, err := s.Pool().Query(ctx, `SELECT level, idx, width, data, false FROM log_tiles
		UNION ALL SELECT 0, idx, width, data, true FROM log_bundles`)
	if err != nil {
		t.Fatal(err)
	}
	var level, width int16
	var idx int64
	var data []byte
	var isBundle bool
	n := 0
	_, err = pgx.ForEachRow(rows, []any{&level, &idx, &width, &data, &isBundle}, func() error {
		tl := tiles.Tile{Level: uint8(level), Index: uint64(idx), Width: uint16(width), Entries: isBundle}
		if want, ok := written[tl]; !ok || !bytes.Equal(data, want) {
			return fmt.Errorf("table holds %s, which no winning flush wrote (or with other bytes)", tl.Path())
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(written) {
		t.Fatalf("tables hold %d tiles, the winning flushes wrote %d", n, len(written))
	}
	st, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := newLog(t)
	want.next(entries...)
	if st.Size != uint64(len(entries)) || st.Root != want.state.Root {
		t.Fatalf("committed %d/%s, want the tree of the %d winning entries, %s", st.Size, st.Root, len(entries), want.state.Root)
	}
	if f := follow(t, s, st); f.builder.Root() != st.Root {
		t.Fatal("stored tiles do not recompute the committed root")
	}
}

// TestMigrationsRace opens several instances on a new database at once: the
// advisory lock makes them take turns, so all succeed and each migration is
// applied exactly once.
func TestMigrationsRace(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	const n = 4
	stores := make([]*Storage, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, Config{DSN: dsn, Logger: testlog.New(t)}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d of %d racing: %v", i, n, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	schema, err := logSchema()
	if err != nil {
		t.Fatal(err)
	}
	var rows, maxVersion int
	err = stores[0].Pool().QueryRow(ctx, `SELECT count(*), max(version) FROM log_schema_migrations`).Scan(&rows, &maxVersion)
	if err != nil {
		t.Fatal(err)
	}
	if rows != len(schema.Steps) || maxVersion != len(schema.Steps) {
		t.Fatalf("log_schema_migrations holds %d rows up to version %d, want %d", rows, maxVersion, len(schema.Steps))
	}
	// The storage works after the race.
	if err := stores[1].Commit(ctx, newLog(t).next(entries("x", 3)...)); err != nil {
		t.Fatal(err)
	}
}

// TestMigrationNewerSchema checks that a binary refuses a database migrated
// by a newer one rather than running on a schema it does not know.
func TestMigrationNewerSchema(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.New(t))
	if _, err := s.Pool().Exec(ctx, `INSERT INTO log_schema_migrations (version, name) VALUES (9999, '9999_future')`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Config{Pool: s.Pool()}); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("Open on a newer schema: %v", err)
	}
}

// noteOf returns a checkpoint note of size n with a fake signature line.
func noteOf(n uint64, sig string) []byte {
	text := tiles.Checkpoint{Origin: "example.com/test", Size: n, Hash: tiles.EmptyRoot}.Marshal()
	return fmt.Appendf(text, "\n— %s AAAA\n", sig)
}

// TestPublish checks that the published checkpoint never moves backwards,
// whichever instance publishes, and that an equal size replaces it.
func TestPublish(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	a, b := open(t, dsn), open(t, dsn)
	if _, err := a.Published(ctx); !errors.Is(err, tiles.ErrNotFound) {
		t.Fatalf("Published before any publish: %v, want ErrNotFound", err)
	}
	steps := []struct {
		s    *Storage
		note []byte
		want []byte
	}{
		{a, noteOf(10, "log"), noteOf(10, "log")},
		{b, noteOf(5, "log"), noteOf(10, "log")},                  // an instance lagging behind
		{b, noteOf(10, "log+witness"), noteOf(10, "log+witness")}, // more cosignatures, same size
		{a, noteOf(11, "log"), noteOf(11, "log")},
		{a, noteOf(0, "log"), noteOf(11, "log")},
	}
	for i, st := range steps {
		if err := st.s.Publish(ctx, st.note); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for _, s := range []*Storage{a, b} {
			got, err := s.Published(ctx)
			if err != nil || !bytes.Equal(got, st.want) {
				t.Fatalf("step %d: published %q (%v), want %q", i, got, err, st.want)
			}
		}
	}
	for _, bad := range [][]byte{nil, []byte("not a note"), []byte("origin\nx\nroot\n\n— sig\n")} {
		if err := a.Publish(ctx, bad); err == nil {
			t.Errorf("Publish(%q) succeeded", bad)
		}
	}
	if _, err := a.Pool().Exec(ctx, `UPDATE log_published SET size = 3`); err == nil ||
		!strings.Contains(err.Error(), "ledger: published checkpoints only move forward") {
		t.Fatalf("moving the published checkpoint backwards: %v", err)
	}
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"neither DSN nor pool", Config{}, "exactly one of Config.DSN and Config.Pool"},
		{"both DSN and pool", Config{DSN: dsn, Pool: &pgxpool.Pool{}}, "exactly one of Config.DSN and Config.Pool"},
		{"bad DSN", Config{DSN: "postgres://127.0.0.1:notaport/x"}, "couldn't parse the PostgreSQL DSN"},
		// A commit acknowledged by PostgreSQL but not yet flushed would be
		// lost in a crash, and with it acknowledged entries.
		{"synchronous_commit off", Config{DSN: withParam(t, dsn, "options", "-c synchronous_commit=off")}, "synchronous_commit is off"},
	} {
		s, err := Open(ctx, tc.cfg)
		if err == nil {
			s.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Open: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	// A pool given in Config stays open after Close.
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := Open(ctx, Config{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("the caller's pool after Close: %v", err)
	}
	if _, err := s.ReadTile(ctx, tiles.Tile{Index: math.MaxUint64 / 2, Width: 1}); !errors.Is(err, tiles.ErrNotFound) {
		t.Fatalf("ReadTile beyond bigint: %v, want ErrNotFound", err)
	}
}

// withParam returns the URL dsn with a query parameter added.
func withParam(t *testing.T, dsn, key, value string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads + as itself
	return u.String()
}

// TestLeastPrivilegeRole checks that, once the schema is migrated, a role
// that may only read, insert and update the log's tables (and create
// nothing) can open the storage and run the log.
func TestLeastPrivilegeRole(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	owner := open(t, dsn)
	role := fmt.Sprintf("ledger_app_%d", time.Now().UnixNano())
	sql := func(s string) {
		t.Helper()
		if _, err := owner.Pool().Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	sql(`CREATE ROLE ` + role + ` LOGIN`)
	t.Cleanup(func() {
		sql(`DROP OWNED BY ` + role)
		sql(`DROP ROLE ` + role)
	})
	sql(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`)
	sql(`GRANT SELECT, INSERT, UPDATE ON log_tiles, log_bundles, log_state, log_published, log_keys, log_keys_backfill, log_checkpoints, log_schema_migrations TO ` + role)
	sql(`GRANT USAGE ON SEQUENCE log_checkpoints_id_seq TO ` + role)

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	s := open(t, u.String())
	if _, err := s.Pool().Exec(ctx, `CREATE TABLE not_allowed (x int)`); err == nil {
		t.Fatal("the role may create tables: the test proves nothing")
	}
	l := newLog(t)
	if err := s.Commit(ctx, l.next(entries("x", 300)...)); err != nil {
		t.Fatalf("commit as %s: %v", role, err)
	}
	if err := s.Publish(ctx, noteOf(300, "log")); err != nil {
		t.Fatalf("publish as %s: %v", role, err)
	}
}
