package indextest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

// testLog is a real ledger over a posix directory.
type testLog struct {
	dir   string
	store *posix.Storage
	l     *ledger.Ledger
	vkey  string
}

func newTestLog(t testing.TB) *testLog {
	dir := t.TempDir()
	store, err := posix.Open(t.Context(), posix.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, vkey := storagetest.NewSigner(t, "example.com/index-test")
	l, err := ledger.New(t.Context(), ledger.Config{Storage: store, Keys: storagetest.NewMemoryKeys(), Signer: signer, KeyOf: event.KeyOf, PublishInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return &testLog{dir: dir, store: store, l: l, vkey: vkey}
}

func (tl *testLog) append(t testing.TB, leaves [][]byte) {
	entries := make([]ledger.Entry, len(leaves))
	for i, leaf := range leaves {
		entries[i] = ledger.Entry{Leaf: leaf}
	}
	if _, err := tl.l.Append(t.Context(), entries); err != nil {
		t.Fatal(err)
	}
}

func (tl *testLog) size(context.Context) (uint64, error) { return tl.l.Committed().Size, nil }

// tree returns the verified published tree, once it covers size entries.
func (tl *testLog) tree(t *testing.T, size uint64) *tiles.Tree {
	if err := tl.l.WaitPublished(t.Context(), size); err != nil {
		t.Fatal(err)
	}
	p, err := tiles.NewLogPolicy(tl.vkey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tiles.DirFetcher(tl.dir).Fetch(t.Context(), tiles.CheckpointPath)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := p.Verify(cp)
	if err != nil {
		t.Fatal(err)
	}
	return tiles.NewTree(tiles.DirFetcher(tl.dir), sc.Checkpoint)
}

// execSQL changes the index behind its back.
func execSQL(t *testing.T, s Opened, query string, args ...any) {
	t.Helper()
	if err := s.Exec(t.Context(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func testFollowVerifyRebuild(t *testing.T, s Opened) {
	ctx := t.Context()
	tl := newTestLog(t)
	d := genEvents(t, 1500, 4)
	tl.append(t, d.leaves[:700])
	tl.append(t, [][]byte{[]byte("not an event")})
	tl.append(t, d.leaves[700:1000])
	f, err := index.NewFollower(index.FollowerConfig{Store: s, Log: index.StorageLog(tl.store), Size: tl.size, Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Sync(ctx); err != nil || n != 1001 {
		t.Fatalf("Sync: %d, %v; want 1001", n, err)
	}
	rows, err := s.Query(ctx, index.Query{Below: 2000, Order: index.ByIndex, Limit: 2000})
	if err != nil || len(rows) != 1001 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	want := d.rows(t, 700, 701)[0]
	want.Index = 701
	if rows[700].ActorID != "" || string(rows[700].Leaf) != "not an event" || !sameRow(rows[701], want) {
		t.Fatalf("rows around the non-event: %+v %+v", rows[700], rows[701])
	}
	checkVerify(t, s, index.TreeLog(tl.tree(t, 1001)), 0, 1001, nil)

	// Change the index behind its back: a column, a whole row made
	// consistent with itself, and a deleted row.
	execSQL(t, s, `UPDATE index_entries SET actor_id = 'mallory' WHERE log_index = 5`)
	forged := []byte(strings.Replace(string(d.leaves[7]), d.events[7].Actor.ID, "mallory", 1))
	execSQL(t, s, `UPDATE index_entries SET leaf = $1, actor_id = 'mallory' WHERE log_index = 7`, forged)
	execSQL(t, s, `DELETE FROM index_entries WHERE log_index = 9`)
	checkVerify(t, s, index.StorageLog(tl.store), 0, 1001, map[uint64]string{
		5: `column actor_id is "mallory" in the index but "` + d.events[5].Actor.ID + `" in the leaf`,
		7: "in the index, ",
		9: "no row in the index",
	})

	if err := index.Rebuild(ctx, s, index.TreeLog(tl.tree(t, 1001)), 0, 1001, nil); err != nil {
		t.Fatal(err)
	}
	checkVerify(t, s, index.StorageLog(tl.store), 0, 1001, nil)

	// The follower picks up new entries on its own.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { f.Run(runCtx); close(done) }()
	tl.append(t, d.leaves[1000:])
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := s.Size(ctx); n != 1501; n, _ = s.Size(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("follower stuck at %d of 1501", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-done
	checkVerify(t, s, index.TreeLog(tl.tree(t, 1501)), 0, 1501, nil)
}

// checkVerify runs Verify and checks that it reports exactly the wanted
// problems (index -> a substring of its first problem).
func checkVerify(t *testing.T, s index.Store, l index.Log, minimum, size uint64, want map[uint64]string) {
	t.Helper()
	r, err := index.Verify(t.Context(), s, l, minimum, size)
	if err != nil {
		t.Fatal(err)
	}
	first := map[uint64]string{}
	for _, m := range r.Mismatches {
		if _, ok := first[m.Index]; !ok {
			first[m.Index] = m.Problem
		}
	}
	if len(first) != len(want) {
		t.Errorf("Verify found problems at %d entries, want %d: %v", len(first), len(want), r.Mismatches)
	}
	for i, sub := range want {
		if !strings.Contains(first[i], sub) {
			t.Errorf("entry %d: problem %q, want one containing %q", i, first[i], sub)
		}
	}
	if wantChecked := size - minimum - uint64(len(want)); len(want) == 0 && r.Checked != wantChecked {
		t.Errorf("checked %d rows, want %d", r.Checked, wantChecked)
	}
}

// testConcurrentFollowers has two followers (two ledger instances) fill one
// index at once: appends that lose the race start again, and every entry
// ends up indexed exactly once.
func testConcurrentFollowers(t *testing.T, s Opened) {
	tl := newTestLog(t)
	d := genEvents(t, 6000, 5)
	tl.append(t, d.leaves)
	errs := make(chan error, 2)
	for range 2 {
		f, err := index.NewFollower(index.FollowerConfig{Store: s, Log: index.StorageLog(tl.store), Size: tl.size})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			_, err := f.Sync(t.Context())
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	checkVerify(t, s, index.TreeLog(tl.tree(t, 6000)), 0, 6000, nil)
}

// testAdoptAnotherLog gives a follower an index filled from another log (a
// log directory replaced, the index file kept): the first Sync empties it
// and fills it from the follower's log, whether the other log was longer or
// shorter.
func testAdoptAnotherLog(t *testing.T, s Opened) {
	old, cur := newTestLog(t), newTestLog(t)
	old.append(t, genEvents(t, 900, 7).leaves)
	d := genEvents(t, 600, 8)
	cur.append(t, d.leaves[:300])
	for _, tl := range []*testLog{old, cur} {
		f, err := index.NewFollower(index.FollowerConfig{Store: s, Log: index.StorageLog(tl.store), Size: tl.size})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	checkVerify(t, s, index.TreeLog(cur.tree(t, 300)), 0, 300, nil)
	if n, err := s.Size(t.Context()); err != nil || n != 300 {
		t.Fatalf("index size %d, %v; want 300", n, err)
	}
}

// testFollowPruned checks the index of a pruned log: the follower drops
// the rows below the minimum index when it moves, Verify and Rebuild
// start at it and never read a pruned bundle, and an index that lagged
// behind the minimum index skips the pruned entries.
func testFollowPruned(t *testing.T, s Opened) {
	ctx := t.Context()
	tl := newTestLog(t)
	d := genEvents(t, 1000, 5)
	tl.append(t, d.leaves[:600])
	minimum := func(ctx context.Context) (uint64, error) {
		p, err := tl.store.Pruned(ctx)
		return p.MinimumIndex, err
	}
	f, err := index.NewFollower(index.FollowerConfig{Store: s, Log: index.StorageLog(tl.store), Size: tl.size, Minimum: minimum})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Sync(ctx); err != nil || n != 600 {
		t.Fatalf("Sync: %d, %v; want 600", n, err)
	}
	if err := tl.store.Prune(ctx, tiles.Pruned{MinimumIndex: 512}); err != nil {
		t.Fatal(err)
	}
	tl.append(t, d.leaves[600:700])
	if n, err := f.Sync(ctx); err != nil || n != 700 {
		t.Fatalf("Sync after the prune: %d, %v; want 700", n, err)
	}
	checkRows(t, s, 512, 700)
	checkVerify(t, s, index.TreeLog(tl.tree(t, 700)), 512, 700, nil)
	if err := index.Rebuild(ctx, s, index.TreeLog(tl.tree(t, 700)), 512, 700, nil); err != nil {
		t.Fatalf("Rebuild of a pruned log: %v", err)
	}
	checkRows(t, s, 512, 700)
	tl.append(t, d.leaves[700:1000])
	if n, err := f.Sync(ctx); err != nil || n != 1000 {
		t.Fatalf("Sync: %d, %v; want 1000", n, err)
	}
	// Rows below the minimum index are of entries the log pruned.
	if r, err := index.Verify(ctx, s, index.StorageLog(tl.store), 768, 1000); err != nil || r.Total != 256 ||
		!strings.Contains(r.Mismatches[0].Problem, "pruned") || r.Mismatches[0].Index != 512 {
		t.Fatalf("Verify with rows below the minimum index: %d problems, %v; want 256 rows from 512 reported pruned", r.Total, err)
	}

	// An index that lags behind the minimum index (reset here) starts at it.
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tl.store.Prune(ctx, tiles.Pruned{MinimumIndex: 768}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.Sync(ctx); err != nil || n != 1000 {
		t.Fatalf("Sync of a reset index after a prune: %d, %v; want 1000", n, err)
	}
	checkRows(t, s, 768, 1000)
	checkVerify(t, s, index.TreeLog(tl.tree(t, 1000)), 768, 1000, nil)
}

// checkRows checks that the index's rows are exactly those of entries
// from to size-1, and that its size is size.
func checkRows(t *testing.T, s index.Store, from, size uint64) {
	t.Helper()
	rows, err := s.Query(t.Context(), index.Query{Below: size + 1, Order: index.ByIndex, Limit: int(size) + 1})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(rows)) != size-from || rows[0].Index != from || rows[len(rows)-1].Index != size-1 {
		t.Fatalf("index holds %d rows (first %d), want those of entries %d to %d", len(rows), rows[0].Index, from, size-1)
	}
	if n, err := s.Size(t.Context()); err != nil || n != size {
		t.Fatalf("index size %d, %v; want %d", n, err, size)
	}
}
