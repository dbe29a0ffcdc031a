package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/index/indextest"
	"github.com/ledger-dev/ledger/ledger/index/sqlite"
)

func open(tb testing.TB, path string) *sqlite.Index {
	s, err := sqlite.Open(tb.Context(), sqlite.Config{Path: path})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	indextest.Run(t, func(t *testing.T) indextest.Opened {
		s := open(t, filepath.Join(t.TempDir(), "index.sqlite"))
		return indextest.Opened{Backend: s, Exec: func(ctx context.Context, sql string, args ...any) error {
			_, err := s.DB().ExecContext(ctx, sql, args...)
			return err
		}}
	}, 100_000)
}

func TestOpen(t *testing.T) {
	if _, err := sqlite.Open(t.Context(), sqlite.Config{}); err == nil {
		t.Fatal("Open without a path succeeded")
	}
	// Reopening keeps the rows.
	path := filepath.Join(t.TempDir(), "index.sqlite")
	s := open(t, path)
	indextest.Fill(t, s, 300, 1)
	s.Close()
	if n, err := open(t, path).Size(t.Context()); err != nil || n != 300 {
		t.Fatalf("reopened index: size %d, %v; want 300", n, err)
	}
}

// benchVersion names the cached benchmark index. Change it whenever the
// generated events or the schema change.
const benchVersion = "v2"

// BenchmarkQuery runs indextest.BenchmarkQuery on the 1M-event index, built
// once and cached in $TMPDIR.
func BenchmarkQuery(b *testing.B) {
	path := filepath.Join(os.TempDir(), "ledger-index-bench-"+benchVersion+".sqlite")
	if _, err := os.Stat(path); err != nil {
		tmp := path + ".tmp"
		os.Remove(tmp)
		s, err := sqlite.Open(b.Context(), sqlite.Config{Path: tmp})
		if err != nil {
			b.Fatal(err)
		}
		indextest.FillBench(b, s)
		s.Close()
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
	}
	indextest.BenchmarkQuery(b, open(b, path))
}

// sized opens a fresh index file and measures it: the database file and its
// write-ahead log after a checkpoint.
func sized(b *testing.B) indextest.Sized {
	path := filepath.Join(b.TempDir(), "index.sqlite")
	s := open(b, path)
	return indextest.Sized{Store: s, Bytes: func(ctx context.Context) (int64, error) {
		if _, err := s.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return 0, err
		}
		var total int64
		for _, p := range []string{path, path + "-wal"} {
			if fi, err := os.Stat(p); err == nil {
				total += fi.Size()
			}
		}
		return total, nil
	}}
}

func BenchmarkFollow(b *testing.B) { indextest.BenchmarkFollow(b, sized) }

func BenchmarkFill(b *testing.B) {
	for _, n := range []int{100_000, indextest.BenchEvents} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { indextest.BenchmarkFill(b, sized, n) })
	}
}

// v1Schema is the index file's first schema (before user_version was set).
const v1Schema = `
CREATE TABLE IF NOT EXISTS index_entries (
	log_index BIGINT PRIMARY KEY, leaf_hash BLOB NOT NULL, leaf BLOB NOT NULL, id TEXT NOT NULL, ts BIGINT NOT NULL,
	tenant_id TEXT NOT NULL, event_type TEXT NOT NULL, action TEXT NOT NULL, actor_id TEXT NOT NULL,
	actor_type TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS index_state (id INTEGER PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL);
INSERT INTO index_state (id, size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE INDEX IF NOT EXISTS index_entries_actor ON index_entries (actor_id, ts, log_index);
CREATE INDEX IF NOT EXISTS index_entries_resource ON index_entries (resource_type, resource_id, ts, log_index);
CREATE INDEX IF NOT EXISTS index_entries_result ON index_entries (result, ts, log_index);
CREATE INDEX IF NOT EXISTS index_entries_tenant ON index_entries (tenant_id, ts, log_index);
CREATE INDEX IF NOT EXISTS index_entries_ts ON index_entries (ts, log_index);`

// TestMigrateV1 opens a file of the first schema: its rows come back as
// they went in, with their leaf hashes, under the current schema version.
func TestMigrateV1(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cur := open(t, filepath.Join(dir, "current.sqlite"))
	indextest.Fill(t, cur, 700, 3)
	want, err := cur.Query(ctx, index.Query{Below: 1000, Order: index.ByIndex, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(dir, "v1.sqlite")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, v1Schema); err != nil {
		t.Fatal(err)
	}
	for _, r := range want {
		if _, err := tx.ExecContext(ctx, `INSERT INTO index_entries VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			int64(r.Index), r.LeafHash[:], r.Leaf, r.ID, r.Time.UnixMicro(), r.TenantID, r.EventType, r.Action,
			r.ActorID, r.ActorType, r.ResourceType, r.ResourceID, r.Result); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE index_state SET size = 700`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := open(t, path)
	got, err := s.Query(ctx, index.Query{Below: 1000, Order: index.ByIndex, Limit: 1000})
	// A file of the first schema had no columns for leaf version 2 (nor did
	// a ledger of its time write such leaves): they come back empty.
	for i := range want {
		want[i].Received, want[i].SubmitterType, want[i].SubmitterTokenID = time.Time{}, "", ""
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("migrated rows differ (%v): %d rows, want %d", err, len(got), len(want))
	}
	if n, err := s.Size(ctx); err != nil || n != 700 {
		t.Fatalf("migrated size %d, %v; want 700", n, err)
	}
	var version int
	if err := s.DB().QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil || version != 3 {
		t.Fatalf("schema version %d, %v; want 3", version, err)
	}
}

// TestOpenNewerSchema refuses a file whose schema a later version wrote.
func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.sqlite")
	s := open(t, path)
	if _, err := s.DB().ExecContext(t.Context(), `PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := sqlite.Open(t.Context(), sqlite.Config{Path: path}); !errors.Is(err, sqlite.ErrNewerSchema) {
		t.Fatalf("Open of a version 99 file: %v, want ErrNewerSchema", err)
	}
}
