// Package blobtest is the contract suite of blob.Store: every
// implementation runs Run against a real store (a directory, a real
// S3-compatible server).
package blobtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ledger-dev/ledger/ledger/blob"
)

// Run runs the contract suite. newStore returns a fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Run("PutGet", func(t *testing.T) { testPutGet(t, newStore(t)) })
	t.Run("IfAbsent", func(t *testing.T) { testIfAbsent(t, newStore(t)) })
	t.Run("IfAbsentRace", func(t *testing.T) { testIfAbsentRace(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("BadNames", func(t *testing.T) { testBadNames(t, newStore(t)) })
}

func get(t *testing.T, s blob.Store, name string, want []byte) {
	t.Helper()
	got, err := s.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get(%s): %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s) = %d bytes %.20q, want %d bytes %.20q", name, len(got), got, len(want), want)
	}
}

func put(t *testing.T, s blob.Store, name string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), name, data, blob.PutOptions{}); err != nil {
		t.Fatalf("Put(%s): %v", name, err)
	}
}

func testPutGet(t *testing.T, s blob.Store) {
	if _, err := s.Get(t.Context(), "tile/0/000"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Get of a missing object: %v, want ErrNotExist", err)
	}
	put(t, s, "tile/0/000", []byte("first"))
	get(t, s, "tile/0/000", []byte("first"))
	put(t, s, "tile/0/000", []byte("second"))
	get(t, s, "tile/0/000", []byte("second"))
	put(t, s, "empty", nil)
	get(t, s, "empty", []byte{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	big[12345] = 0
	if err := s.Put(t.Context(), "tile/entries/x001/234.p/7", big, blob.PutOptions{ContentType: "application/octet-stream", CacheControl: "max-age=60"}); err != nil {
		t.Fatal(err)
	}
	get(t, s, "tile/entries/x001/234.p/7", big)
	// The prefix of other objects is not an object.
	if _, err := s.Get(t.Context(), "tile/0"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Get of a prefix: %v, want ErrNotExist", err)
	}
}

func testIfAbsent(t *testing.T, s blob.Store) {
	ctx := t.Context()
	if err := s.Put(ctx, "lock/state", []byte("one"), blob.PutOptions{IfAbsent: true}); err != nil {
		t.Fatalf("IfAbsent Put of a new name: %v", err)
	}
	if err := s.Put(ctx, "lock/state", []byte("two"), blob.PutOptions{IfAbsent: true}); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("IfAbsent Put of a taken name: %v, want ErrExists", err)
	}
	get(t, s, "lock/state", []byte("one"))
	if err := s.Delete(ctx, "lock/state"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "lock/state", []byte("three"), blob.PutOptions{IfAbsent: true}); err != nil {
		t.Fatalf("IfAbsent Put after Delete: %v", err)
	}
	get(t, s, "lock/state", []byte("three"))
}

// testIfAbsentRace puts one name IfAbsent from several goroutines at once:
// exactly one wins, and its bytes are stored.
func testIfAbsentRace(t *testing.T, s blob.Store) {
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			errs[i] = s.Put(t.Context(), "race", fmt.Appendf(nil, "racer %d", i), blob.PutOptions{IfAbsent: true})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both created the object", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, blob.ErrExists):
			t.Fatalf("racer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer created the object")
	}
	get(t, s, "race", fmt.Appendf(nil, "racer %d", winner))
}

func list(t *testing.T, s blob.Store, prefix string) []string {
	t.Helper()
	var got []string
	if err := s.List(t.Context(), prefix, func(name string) error {
		got = append(got, name)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return got
}

func testList(t *testing.T, s blob.Store) {
	if got := list(t, s, ""); len(got) != 0 {
		t.Fatalf("List of an empty store: %q", got)
	}
	names := []string{"checkpoint", "tile/0/000", "tile/0/001.p/3", "tile/0/x001/000", "tile/00", "tile/1/000", "tile/entries/000", "tile-x"}
	for _, n := range names {
		put(t, s, n, []byte(n))
	}
	all := slices.Sorted(slices.Values(names))
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"tile/0/", []string{"tile/0/000", "tile/0/001.p/3", "tile/0/x001/000"}},
		{"tile/0", []string{"tile/0/000", "tile/0/001.p/3", "tile/0/x001/000", "tile/00"}},
		{"tile/entries/000", []string{"tile/entries/000"}},
		{"tile", all[1:]},
		{"nothing/", nil},
	} {
		if got := list(t, s, c.prefix); !slices.Equal(got, c.want) {
			t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := s.List(t.Context(), "", func(string) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("List whose fn fails: %v after %d calls, want the fn's error after 1", err, n)
	}
}

func testDelete(t *testing.T, s blob.Store) {
	put(t, s, "a/b", []byte("x"))
	put(t, s, "a/c", []byte("y"))
	if err := s.Delete(t.Context(), "a/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), "a/b"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Get after Delete: %v, want ErrNotExist", err)
	}
	if err := s.Delete(t.Context(), "a/b"); err != nil {
		t.Fatalf("Delete of a missing object: %v", err)
	}
	if got := list(t, s, ""); !slices.Equal(got, []string{"a/c"}) {
		t.Fatalf("List after Delete = %q", got)
	}
}

func testBadNames(t *testing.T, s blob.Store) {
	for _, name := range []string{"", "/abs", "a//b", "a/../b", "..", "./a", "a/", "a\\b", "a\x00b", "a\nb"} {
		if err := s.Put(t.Context(), name, []byte("x"), blob.PutOptions{}); err == nil {
			t.Errorf("Put(%q) succeeded", name)
		}
		if _, err := s.Get(t.Context(), name); err == nil || errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Get(%q): %v, want a bad-name error", name, err)
		}
	}
}
