package keyindex_test

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/internal/testlog"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/keyindex"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

func open(tb testing.TB, path string) *keyindex.Store {
	tb.Helper()
	s, err := keyindex.Open(tb.Context(), keyindex.Config{Path: path})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storagetest.RunKeyStore(t, func(t *testing.T) storagetest.KeyStoreOpener {
		path := filepath.Join(t.TempDir(), "keys.sqlite")
		return func(t *testing.T) ledger.KeyStore { return open(t, path) }
	}, 100_000)
}

func TestOpen(t *testing.T) {
	if _, err := keyindex.Open(t.Context(), keyindex.Config{}); err == nil {
		t.Fatal("Open without a path succeeded")
	}
	if _, err := keyindex.Open(t.Context(), keyindex.Config{Path: filepath.Join(t.TempDir(), "no", "such", "dir")}); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

func TestStoreErrors(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "keys.sqlite"))
	recs := storagetest.KeyRecords("k", 0, 3)
	if err := s.Store(ctx, 1, 4, storagetest.KeyRecords("k", 1, 3)); !errors.Is(err, keyindex.ErrWatermark) {
		t.Fatalf("store from 1 at watermark 0: %v, want ErrWatermark", err)
	}
	if err := s.Store(ctx, 0, 3, recs); err != nil {
		t.Fatal(err)
	}
	again := storagetest.KeyRecords("k", 3, 1)
	again[0].Key = recs[0].Key
	if err := s.Store(ctx, 3, 4, again); !errors.Is(err, keyindex.ErrKeyExists) {
		t.Fatalf("a key stored twice: %v, want ErrKeyExists", err)
	}
	for name, bad := range map[string][]ledger.KeyRecord{
		"below from":    storagetest.KeyRecords("x", 2, 1),
		"at to":         storagetest.KeyRecords("x", 5, 1),
		"no key":        {{Index: 3}},
		"to below from": nil,
	} {
		to := uint64(5)
		if bad == nil {
			to = 2
		}
		if err := s.Store(ctx, 3, to, bad); err == nil || errors.Is(err, keyindex.ErrWatermark) {
			t.Errorf("%s: %v, want an error refusing the records", name, err)
		}
	}
	if w, _ := s.Watermark(ctx); w != 3 {
		t.Fatalf("refused stores moved the watermark to %d", w)
	}
}

// writeLog appends n entries to a posix log in dir, every third without a
// key, and returns the log.
func writeLog(t *testing.T, dir string, n int) *posix.Storage {
	t.Helper()
	ctx := t.Context()
	store, err := posix.Open(ctx, posix.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, _ := storagetest.NewSigner(t, "example.com/keyindex")
	l := storagetest.NewLedger(t, store, storagetest.NewMemoryKeys(), signer)
	var batch []ledger.Entry
	for i := range n {
		key := fmt.Sprintf("tenant\x00id-%d", i)
		if i%3 == 2 {
			key = ""
		}
		batch = append(batch, ledger.Entry{Key: key, Leaf: fmt.Appendf(nil, "%s|payload %d", key, i)})
	}
	if _, err := l.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}

// TestRebuildVerify rebuilds a key index from a log, verifies it, and finds
// each way of tampering with a row.
func TestRebuildVerify(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	const n = 1000
	store := writeLog(t, filepath.Join(dir, "log"), n)
	lg := index.StorageLog(store)
	s := open(t, filepath.Join(dir, "keys.sqlite"))
	if err := keyindex.Rebuild(ctx, s, lg, n, storagetest.KeyBeforeBar, testlog.New(t)); err != nil {
		t.Fatal(err)
	}
	verify := func(size uint64) *keyindex.Report {
		t.Helper()
		r, err := keyindex.Verify(ctx, s, lg, 0, size, storagetest.KeyBeforeBar)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := verify(n); r.Total != 0 || r.Watermark != n || r.Checked != n || r.Keys != n-n/3 {
		t.Fatalf("verify of a rebuilt index: %+v", r)
	}
	// Only entries below the watermark are checked.
	empty := open(t, filepath.Join(dir, "empty.sqlite"))
	if err := empty.Store(ctx, 0, 256, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := keyindex.Verify(ctx, empty, lg, 0, n, storagetest.KeyBeforeBar); err != nil || r.Checked != 256 || r.Total != 256-256/3 {
		t.Fatalf("verify of an index without the keys of [0, 256): %+v, %v", r, err)
	}
	for _, tc := range []struct {
		sql  string
		args []any
		at   uint64
		want string
	}{
		{`UPDATE keys SET idx = 7 WHERE key = ?`, []any{[]byte("tenant\x00id-400")}, 400, "recorded at index 7"},
		{`UPDATE keys SET hash = zeroblob(32) WHERE key = ?`, []any{[]byte("tenant\x00id-600")}, 600, "recorded with leaf hash"},
		{`DELETE FROM keys WHERE key = ?`, []any{[]byte("tenant\x00id-999")}, 999, "not in the key index"},
		{`UPDATE keys SET key = ? WHERE key = ?`, []any{[]byte("tenant\x00id-X"), []byte("tenant\x00id-3")}, 3, "not in the key index"},
	} {
		if _, err := s.DB().ExecContext(ctx, tc.sql, tc.args...); err != nil {
			t.Fatal(err)
		}
		r := verify(n)
		last := r.Mismatches[len(r.Mismatches)-1]
		found := false
		for _, m := range r.Mismatches {
			found = found || (m.Index == tc.at && strings.Contains(m.Problem, tc.want))
		}
		if !found {
			t.Fatalf("after %s: mismatches %v (last %v), want entry %d: %s", tc.sql, r.Mismatches, last, tc.at, tc.want)
		}
	}
	if r := verify(n); r.Total != 4 {
		t.Fatalf("%d mismatches after 4 tampered rows: %v", r.Total, r.Mismatches)
	}
	if err := keyindex.Rebuild(ctx, s, lg, n, storagetest.KeyBeforeBar, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if r := verify(n); r.Total != 0 {
		t.Fatalf("verify after a second rebuild: %v", r.Mismatches)
	}
}

// TestVerifyReadErrors checks that a key that cannot be read fails Verify.
func TestVerifyReadErrors(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	store := writeLog(t, filepath.Join(dir, "log"), 10)
	s := open(t, filepath.Join(dir, "keys.sqlite"))
	lg := index.StorageLog(store)
	if err := keyindex.Rebuild(ctx, s, lg, 10, storagetest.KeyBeforeBar, testlog.New(t)); err != nil {
		t.Fatal(err)
	}
	bad := func([]byte) (string, error) { return "", errors.New("unreadable") }
	if _, err := keyindex.Verify(ctx, s, lg, 0, 10, bad); err == nil {
		t.Fatal("verify with unreadable keys succeeded")
	}
	if _, err := keyindex.Verify(ctx, s, lg, 0, 20, storagetest.KeyBeforeBar); err == nil {
		t.Fatal("verify beyond the log's size succeeded")
	}
}
