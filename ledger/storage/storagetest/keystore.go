package storagetest

import (
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// KeyStoreOpener opens the key store under test. Every call opens the same
// underlying store, so a second call after closing the first instance (if it
// implements io.Closer) is a restart.
type KeyStoreOpener func(t *testing.T) ledger.KeyStore

// RunKeyStore runs the ledger.KeyStore contract suite. newStore returns an
// opener for a fresh, empty store. many is how many keys the large test
// stores, in batches of at most 10,000 (100,000 is a good figure for an
// embedded store).
func RunKeyStore(t *testing.T, newStore func(t *testing.T) KeyStoreOpener, many int) {
	t.Run("Empty", func(t *testing.T) { testKeysEmpty(t, newStore(t)) })
	t.Run("CompareAndSwap", func(t *testing.T) { testKeysCompareAndSwap(t, newStore(t)) })
	t.Run("KeyTwice", func(t *testing.T) { testKeyTwice(t, newStore(t)) })
	t.Run("AwkwardKeys", func(t *testing.T) { testAwkwardKeys(t, newStore(t)) })
	t.Run("Many", func(t *testing.T) { testManyKeys(t, newStore(t), many) })
}

// KeyRecords returns the records of n keyed entries from index from on:
// entry i has key prefix+"-i" and a leaf hash derived from it.
func KeyRecords(prefix string, from uint64, n int) []ledger.KeyRecord {
	recs := make([]ledger.KeyRecord, n)
	for i := range recs {
		key := fmt.Sprintf("%s-%d", prefix, from+uint64(i))
		recs[i] = ledger.KeyRecord{Key: key, Index: from + uint64(i), Hash: tiles.Hash(sha256.Sum256([]byte(key)))}
	}
	return recs
}

func closeKeys(t *testing.T, ks ledger.KeyStore) {
	if c, ok := ks.(io.Closer); ok {
		if err := c.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
}

func wantWatermark(t *testing.T, ks ledger.KeyStore, want uint64) {
	t.Helper()
	if w, err := ks.Watermark(t.Context()); err != nil || w != want {
		t.Fatalf("watermark %d, %v; want %d", w, err, want)
	}
}

// wantFound looks up the keys of want plus absent, and checks that exactly
// want is found, record for record.
func wantFound(t *testing.T, ks ledger.KeyStore, want []ledger.KeyRecord, absent ...string) {
	t.Helper()
	keys := append([]string{}, absent...)
	for _, r := range want {
		keys = append(keys, r.Key)
	}
	got, err := ks.Lookup(t.Context(), keys)
	if err != nil {
		t.Fatalf("lookup of %d keys: %v", len(keys), err)
	}
	byKey := map[string]ledger.KeyRecord{}
	for _, r := range got {
		if _, dup := byKey[r.Key]; dup {
			t.Fatalf("lookup returned %q twice", r.Key)
		}
		byKey[r.Key] = r
	}
	for _, r := range want {
		if byKey[r.Key] != r {
			t.Fatalf("lookup of %q: %+v, want %+v", r.Key, byKey[r.Key], r)
		}
		delete(byKey, r.Key)
	}
	if len(byKey) > 0 {
		t.Fatalf("lookup returned keys never stored: %q", slices.Sorted(maps.Keys(byKey)))
	}
}

func testKeysEmpty(t *testing.T, open KeyStoreOpener) {
	ks := open(t)
	defer closeKeys(t, ks)
	wantWatermark(t, ks, 0)
	wantFound(t, ks, nil)
	wantFound(t, ks, nil, "unknown", "")
}

func testKeysCompareAndSwap(t *testing.T, open KeyStoreOpener) {
	ctx := t.Context()
	ks := open(t)
	first := KeyRecords("a", 0, 10)
	if err := ks.Store(ctx, 0, 10, first); err != nil {
		t.Fatalf("store [0, 10): %v", err)
	}
	wantWatermark(t, ks, 10)
	// A store from any other watermark fails and changes nothing.
	for _, from := range []uint64{0, 5, 11} {
		if err := ks.Store(ctx, from, 20, KeyRecords("b", 10, 10)); err == nil {
			t.Fatalf("store from %d at watermark 10 succeeded", from)
		}
	}
	wantWatermark(t, ks, 10)
	wantFound(t, ks, first, "b-10", "b-15", "b-19")
	// Entries without keys move the watermark with no records.
	if err := ks.Store(ctx, 10, 300, nil); err != nil {
		t.Fatalf("store of [10, 300) without keys: %v", err)
	}
	second := KeyRecords("c", 300, 5)
	if err := ks.Store(ctx, 300, 310, second); err != nil {
		t.Fatalf("store [300, 310): %v", err)
	}
	closeKeys(t, ks)

	ks = open(t) // restart
	defer closeKeys(t, ks)
	wantWatermark(t, ks, 310)
	wantFound(t, ks, append(first, second...), "a-10", "c-299")
}

func testKeyTwice(t *testing.T, open KeyStoreOpener) {
	ctx := t.Context()
	ks := open(t)
	defer closeKeys(t, ks)
	first := KeyRecords("k", 0, 3)
	if err := ks.Store(ctx, 0, 3, first); err != nil {
		t.Fatal(err)
	}
	again := KeyRecords("n", 3, 3)
	again[1].Key = first[2].Key // the same key at another index
	if err := ks.Store(ctx, 3, 6, again); err == nil {
		t.Fatal("a key stored again at another index was accepted")
	}
	wantWatermark(t, ks, 3)
	wantFound(t, ks, first, again[0].Key, again[2].Key)
	twice := KeyRecords("m", 3, 2)
	twice[1].Key = twice[0].Key // twice in one batch
	if err := ks.Store(ctx, 3, 5, twice); err == nil {
		t.Fatal("a batch holding one key twice was accepted")
	}
	wantWatermark(t, ks, 3)
	wantFound(t, ks, first, twice[0].Key)
}

// testAwkwardKeys stores keys that are prefixes of each other, hold zero
// bytes (the tenant separator), are not UTF-8 or are long.
func testAwkwardKeys(t *testing.T, open KeyStoreOpener) {
	ctx := t.Context()
	keys := []string{"a", "ab", "a\x00", "a\x00b", "\x00", "\x00\x00", "tenant\x00id", "tenant\x00id2", "\xff\xfe",
		"é", "e\u0301", strings.Repeat("x", 4000), strings.Repeat("x", 4001), "A", " a", "a "}
	recs := make([]ledger.KeyRecord, len(keys))
	for i, k := range keys {
		recs[i] = ledger.KeyRecord{Key: k, Index: uint64(2 * i), Hash: tiles.Hash(sha256.Sum256([]byte(k)))}
	}
	ks := open(t)
	if err := ks.Store(ctx, 0, uint64(2*len(keys)), recs); err != nil {
		t.Fatal(err)
	}
	wantFound(t, ks, recs, "b", "a\x00c", "tenant", "tenant\x00", "tenant\x00i", "\xff", strings.Repeat("x", 3999), "")
	closeKeys(t, ks)
	ks = open(t)
	defer closeKeys(t, ks)
	wantFound(t, ks, recs, "aa", "\x00a")
}

// testManyKeys stores n keys in batches and finds them all, in one lookup
// and after a restart.
func testManyKeys(t *testing.T, open KeyStoreOpener, n int) {
	ctx := t.Context()
	const batch = 10_000
	ks := open(t)
	var all []ledger.KeyRecord
	for from := 0; from < n; from += batch {
		recs := KeyRecords("tenant\x00id", uint64(from), min(batch, n-from))
		if err := ks.Store(ctx, uint64(from), uint64(from+len(recs)), recs); err != nil {
			t.Fatalf("store from %d: %v", from, err)
		}
		all = append(all, recs...)
	}
	wantWatermark(t, ks, uint64(n))
	wantFound(t, ks, all, "tenant\x00id--1", fmt.Sprintf("tenant\x00id-%d", n))
	closeKeys(t, ks)
	ks = open(t)
	defer closeKeys(t, ks)
	wantWatermark(t, ks, uint64(n))
	wantFound(t, ks, all[n/2:n/2+1])
}
