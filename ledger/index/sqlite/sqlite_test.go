package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
const benchVersion = "v1"

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
