// Package subjectkeytest is the contract every subjectkey.Store meets, run
// by the tests of each store over its real backing (a file, a PostgreSQL
// database).
package subjectkeytest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/subjectkey"
)

// Opener opens a Store over one backing, as a process would: each call is
// a new Store sharing the keys of the Stores opened before, its keys
// wrapped by wrap and its Newest rounded up to resolution.
type Opener func(t *testing.T, wrap subjectkey.Wrapper, resolution time.Duration) subjectkey.Store

// Run runs the contract over the backing that each call of newBacking
// makes afresh.
func Run(t *testing.T, newBacking func(t *testing.T) Opener) {
	t.Run("Life", func(t *testing.T) { life(t, newBacking(t)) })
	t.Run("Newest", func(t *testing.T) { newest(t, newBacking(t)) })
	t.Run("Concurrent", func(t *testing.T) { concurrent(t, newBacking(t)) })
}

// MasterKey returns the master key of 32 bytes b.
func MasterKey(t testing.TB, b byte) *subjectkey.MasterKey {
	t.Helper()
	m, err := subjectkey.NewMasterKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var at = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// life runs a subject's key through its life, read and destroyed by a
// second Store as another process would.
func life(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, MasterKey(t, 1), 0)
	kid, key, err := s.Key(ctx, "acme", "alice", at)
	if err != nil || len(key) != 32 || len(kid) != 32 {
		t.Fatalf("Key = %q, %x, %v", kid, key, err)
	}
	if kid2, key2, err := s.Key(ctx, "acme", "alice", at); err != nil || kid2 != kid || !bytes.Equal(key2, key) {
		t.Fatalf("second Key = %q, %v; want the first", kid2, err)
	}
	otherKID, _, err := s.Key(ctx, "other", "alice", at)
	if err != nil || otherKID == kid {
		t.Fatalf("another tenant's alice got key %q, %v", otherKID, err)
	}

	other := open(t, MasterKey(t, 1), 0)
	if got, err := other.Open(ctx, kid); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Open by a second store = %x, %v", got, err)
	}
	if kid2, key2, err := other.Key(ctx, "acme", "alice", at); err != nil || kid2 != kid || !bytes.Equal(key2, key) {
		t.Fatalf("Key by a second store = %q, %v; want the first's", kid2, err)
	}
	why := subjectkey.Why{Reason: "request", By: "token:1234"}
	destroyed, err := other.Destroy(ctx, "acme", "alice", why, time.Time{})
	if err != nil || destroyed.KID != kid || destroyed.Why != why || !destroyed.Pending || destroyed.Tenant != "acme" || destroyed.Subject != "alice" ||
		time.Since(destroyed.At) > time.Minute {
		t.Fatalf("Destroy = %+v, %v; want the pending erasure of %q, now", destroyed, err, kid)
	}
	if _, err := s.Open(ctx, kid); !errors.Is(err, subjectkey.ErrErased) {
		t.Fatalf("Open after Destroy by another store = %v, want ErrErased", err)
	}
	if _, err := s.Open(ctx, strings.Repeat("0", 32)); !errors.Is(err, subjectkey.ErrUnknownKey) {
		t.Fatalf("Open of an unknown id = %v", err)
	}
	if again, err := s.Destroy(ctx, "acme", "alice", subjectkey.Why{Reason: "again"}, time.Time{}); err != nil || again.KID != kid || again.Why != why || !again.Pending {
		t.Fatalf("second Destroy = %+v, %v; want the erasure of the key destroyed, %q, still pending", again, err, kid)
	}
	if pending, err := s.Pending(ctx); err != nil || len(pending) != 1 || pending[0].KID != kid {
		t.Fatalf("Pending = %+v, %v; want the erasure of %q", pending, err, kid)
	}
	if err := other.Logged(ctx, kid); err != nil {
		t.Fatal(err)
	}
	if pending, err := s.Pending(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("Pending after Logged = %+v, %v; want none", pending, err)
	}
	if again, err := s.Destroy(ctx, "acme", "alice", why, time.Time{}); err != nil || again.KID != kid || again.Pending {
		t.Fatalf("Destroy after Logged = %+v, %v; want the erasure of %q, logged", again, err, kid)
	}
	if never, err := s.Destroy(ctx, "acme", "nobody", why, time.Time{}); err != nil || never.KID != "" {
		t.Fatalf("Destroy of a subject without a key = %+v, %v", never, err)
	}
	if newKID, _, err := other.Key(ctx, "acme", "alice", at); err != nil || newKID == kid {
		t.Fatalf("Key after Destroy = %q, %v; want a new key", newKID, err)
	}
	if _, err := s.Open(ctx, otherKID); err != nil {
		t.Fatalf("the other tenant's key after the erasure: %v", err)
	}

	wrong := open(t, MasterKey(t, 2), 0)
	if _, err := wrong.Open(ctx, otherKID); err == nil || !strings.Contains(err.Error(), "does not unwrap") {
		t.Fatalf("Open under another master key = %v", err)
	}
}

// newest checks that a key's Newest covers every event sealed under it,
// rounded up to the resolution, and that Idle lists exactly the keys whose
// Newest is before its bound.
func newest(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, MasterKey(t, 1), time.Minute)
	aliceKID, _, err := s.Key(ctx, "acme", "alice", at.Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Key(ctx, "acme", "alice", at.Add(-time.Hour)); err != nil { // an older event moves nothing
		t.Fatal(err)
	}
	bobKID, _, err := s.Key(ctx, "acme", "bob", at)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Key(ctx, "acme", "nobody-knows-when", time.Time{}); err != nil { // never idle
		t.Fatal(err)
	}
	idle := func(s subjectkey.Store, before time.Time) map[string]time.Time {
		t.Helper()
		infos, err := s.Idle(ctx, before)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]time.Time{}
		for _, i := range infos {
			got[i.KID] = i.Newest
		}
		return got
	}
	// alice's event at 10:00:10 is covered up to 10:01; bob's at 10:00 exactly.
	if got := idle(s, at.Add(time.Minute)); len(got) != 1 || !got[bobKID].Equal(at) {
		t.Fatalf("Idle before 10:01 = %v; want bob's key only, newest %v", got, at)
	}
	second := open(t, MasterKey(t, 1), time.Minute)
	if got := idle(second, at.Add(time.Minute+time.Microsecond)); len(got) != 2 || !got[aliceKID].Equal(at.Add(time.Minute)) {
		t.Fatalf("Idle just after 10:01 = %v; want both keys, alice's newest 10:01", got)
	}
	// A later event of bob's, sealed by another store, moves his key's
	// Newest for every store.
	if _, _, err := second.Key(ctx, "acme", "bob", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := idle(s, at.Add(time.Hour)); len(got) != 1 || got[aliceKID].IsZero() {
		t.Fatalf("Idle before 11:00 after bob's later event = %v; want alice's key only", got)
	}
	// A key found idle but given a later event since is kept by a Destroy
	// that asks for it idle.
	if e, err := s.Destroy(ctx, "acme", "bob", subjectkey.Why{Reason: "retention max"}, at.Add(time.Minute)); err != nil || e.KID != "" {
		t.Fatalf("Destroy of bob's key, idle before 10:01, after his event at 11:00 = %+v, %v; want it kept", e, err)
	}
	if e, err := s.Destroy(ctx, "acme", "alice", subjectkey.Why{Reason: "retention max"}, at.Add(time.Hour)); err != nil || e.KID != aliceKID {
		t.Fatalf("Destroy of alice's key, idle before 11:00 = %+v, %v", e, err)
	}
	if got := idle(second, at.Add(48*time.Hour)); len(got) != 1 || got[bobKID].IsZero() {
		t.Fatalf("Idle after alice's erasure = %v; want bob's key only", got)
	}
}

// concurrent asks two Stores for one new subject's key at once, many times:
// they all get the same key.
func concurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	stores := []subjectkey.Store{open(t, MasterKey(t, 1), 0), open(t, MasterKey(t, 1), 0)}
	var wg sync.WaitGroup
	kids := make([]string, 16)
	errs := make([]error, len(kids))
	for i := range kids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kids[i], _, errs[i] = stores[i%2].Key(ctx, "acme", "carol", at.Add(time.Duration(i)*time.Hour))
		}()
	}
	wg.Wait()
	for i := range kids {
		if errs[i] != nil || kids[i] != kids[0] {
			t.Fatalf("Key %d = %q, %v; want one key (%q) for every caller", i, kids[i], errs[i], kids[0])
		}
	}
	infos, err := stores[0].Idle(ctx, at.Add(100*time.Hour))
	if err != nil || len(infos) != 1 || !infos[0].Newest.Equal(at.Add(15*time.Hour)) {
		t.Fatalf("Idle = %v, %v; want carol's key, its newest the latest event's (+15h)", infos, err)
	}
}

// BenchKeys is how many keys a store holds before Bench measures it.
const BenchKeys = 1000

// Bench measures a store's operations, each over a store holding
// BenchKeys keys already: Key of a subject it knows (the path of every
// sealed event), Key of a new subject (a durable write), Open (every
// answer, once per key) and Destroy of a subject's key.
func Bench(b *testing.B, newStore func(b *testing.B) subjectkey.Store) {
	ctx := context.Background()
	open := func(b *testing.B) subjectkey.Store {
		s := newStore(b)
		for i := range BenchKeys {
			if _, _, err := s.Key(ctx, "other", "subject-"+strconv.Itoa(i), at); err != nil {
				b.Fatal(err)
			}
		}
		return s
	}
	b.Run("KeyKnown", func(b *testing.B) {
		s := open(b)
		if _, _, err := s.Key(ctx, "acme", "alice", at); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, _, err := s.Key(ctx, "acme", "alice", at); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("KeyNew", func(b *testing.B) {
		s := open(b)
		i := 0
		for b.Loop() {
			i++
			if _, _, err := s.Key(ctx, "acme", "subject-"+strconv.Itoa(i), at); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		s := open(b)
		kid, _, err := s.Key(ctx, "acme", "alice", at)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := s.Open(ctx, kid); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Destroy", func(b *testing.B) {
		s := open(b)
		i := 0
		for b.Loop() {
			i++
			b.StopTimer()
			subject := "subject-" + strconv.Itoa(i)
			if _, _, err := s.Key(ctx, "acme", subject, at); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := s.Destroy(ctx, "acme", subject, subjectkey.Why{Reason: "request"}, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
