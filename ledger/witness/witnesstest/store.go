package witnesstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ledger-dev/ledger/ledger/witness"
	"github.com/ledger-dev/ledger/tiles"
)

// Opener opens the store under test. Every call opens the same underlying
// state (a directory, a database), so a call after closing the previous
// instance (if it implements io.Closer) is a restart.
type Opener func(t *testing.T) witness.Store

// RunStore runs the witness.Store contract suite. newStore returns an Opener
// for a fresh, empty store.
func RunStore(t *testing.T, newStore func(t *testing.T) Opener) {
	t.Run("Empty", func(t *testing.T) { testEmpty(t, newStore(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("FailedUpdate", func(t *testing.T) { testFailedUpdate(t, newStore(t)) })
	t.Run("Origins", func(t *testing.T) { testOrigins(t, newStore(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("Canceled", func(t *testing.T) { testCanceled(t, newStore(t)) })
}

func closeStore(t *testing.T, s witness.Store) {
	t.Helper()
	if c, ok := s.(io.Closer); ok {
		if err := c.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
}

// reopen closes s and opens the same state again.
func reopen(t *testing.T, s witness.Store, open Opener) witness.Store {
	t.Helper()
	closeStore(t, s)
	return open(t)
}

func mustGet(t *testing.T, s witness.Store, origin string) []byte {
	t.Helper()
	b, err := s.Get(t.Context(), origin)
	if err != nil {
		t.Fatalf("Get(%q): %v", origin, err)
	}
	return b
}

// set stores v for origin and checks that f was shown want.
func set(t *testing.T, s witness.Store, origin string, want, v []byte) {
	t.Helper()
	err := s.Update(t.Context(), origin, func(old []byte) ([]byte, error) {
		if !bytes.Equal(old, want) || (old == nil) != (want == nil) {
			return nil, fmt.Errorf("Update(%q) showed %.40q, want %.40q", origin, old, want)
		}
		return v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testEmpty(t *testing.T, open Opener) {
	s := open(t)
	defer closeStore(t, s)
	if b := mustGet(t, s, "example.com/never"); b != nil {
		t.Fatalf("Get on an empty store = %q, want nil", b)
	}
}

// testRoundTrip checks that each Update sees the previous value, byte for
// byte, and that an acknowledged value survives a restart.
func testRoundTrip(t *testing.T, open Opener) {
	s := open(t)
	const origin = "example.com/log"
	v1 := []byte("example.com/log\n1\nAAAA\n\n— example.com/log sig\n")
	// The largest value a witness stores: a request body's worth of
	// checkpoint plus cosignature lines; arbitrary bytes must survive.
	v2 := bytes.Repeat([]byte("\x00\xffcheckpoint\n"), (tiles.MaxAddCheckpointSize+4096)/12)
	set(t, s, origin, nil, v1)
	if got := mustGet(t, s, origin); !bytes.Equal(got, v1) {
		t.Fatalf("Get = %q, want %q", got, v1)
	}
	set(t, s, origin, v1, v2)
	s = reopen(t, s, open)
	defer func() { closeStore(t, s) }()
	if got := mustGet(t, s, origin); !bytes.Equal(got, v2) {
		t.Fatalf("after restart Get returned %d bytes, want the %d acknowledged", len(got), len(v2))
	}
	set(t, s, origin, v2, v1)
	if got := mustGet(t, s, origin); !bytes.Equal(got, v1) {
		t.Fatalf("Get = %q, want %q", got, v1)
	}
}

// testFailedUpdate checks that an error from f changes nothing and is
// returned to the caller.
func testFailedUpdate(t *testing.T, open Opener) {
	s := open(t)
	const origin = "example.com/log"
	refused := errors.New("refused by f")
	for _, stored := range [][]byte{nil, []byte("v1\n")} {
		if stored != nil {
			set(t, s, origin, nil, stored)
		}
		err := s.Update(t.Context(), origin, func([]byte) ([]byte, error) { return nil, refused })
		if !errors.Is(err, refused) {
			t.Fatalf("Update returned %v, want f's error", err)
		}
		if got := mustGet(t, s, origin); !bytes.Equal(got, stored) || (got == nil) != (stored == nil) {
			t.Fatalf("after a failed update Get = %q, want %q", got, stored)
		}
	}
	s = reopen(t, s, open)
	defer func() { closeStore(t, s) }()
	if got := mustGet(t, s, origin); string(got) != "v1\n" {
		t.Fatalf("after restart Get = %q, want v1", got)
	}
}

// testOrigins checks that origins, including awkward ones, are kept apart.
func testOrigins(t *testing.T, open Opener) {
	s := open(t)
	defer func() { closeStore(t, s) }()
	origins := []string{"a", "A", "example.com/log", "example.com/log/", "../../etc/passwd", "white space",
		"ünïcödé.example/日本", "quote'\"\\%_", strings.Repeat("long.example/", 200)}
	for i, o := range origins {
		set(t, s, o, nil, []byte(strconv.Itoa(i)))
	}
	s = reopen(t, s, open)
	for i, o := range origins {
		if got := mustGet(t, s, o); string(got) != strconv.Itoa(i) {
			t.Errorf("origin %.30q holds %q, want %d", o, got, i)
		}
	}
}

// testConcurrent checks that Update is an atomic read-modify-write: counters
// incremented from many goroutines lose no increment, on one origin and on
// several at once.
func testConcurrent(t *testing.T, open Opener) {
	s := open(t)
	defer func() { closeStore(t, s) }()
	const workers, rounds = 8, 12
	origins := []string{"example.com/one", "example.com/two", "example.com/three"}
	var wg sync.WaitGroup
	errs := make(chan error, workers*len(origins))
	for _, origin := range origins {
		for range workers {
			wg.Go(func() {
				for range rounds {
					if err := s.Update(t.Context(), origin, increment); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, origin := range origins {
		if got := mustGet(t, s, origin); string(got) != strconv.Itoa(workers*rounds) {
			t.Errorf("%s counted to %q, want %d: an update was lost", origin, got, workers*rounds)
		}
	}
}

func increment(old []byte) ([]byte, error) {
	n := 0
	if old != nil {
		var err error
		if n, err = strconv.Atoi(string(old)); err != nil {
			return nil, err
		}
	}
	return []byte(strconv.Itoa(n + 1)), nil
}

// testCanceled checks that a canceled context stops an update before f runs.
func testCanceled(t *testing.T, open Opener) {
	s := open(t)
	defer func() { closeStore(t, s) }()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.Update(ctx, "example.com/log", func([]byte) ([]byte, error) { called = true; return []byte("x"), nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Fatalf("Update with a canceled context: err %v, f called %v; want context.Canceled and no call", err, called)
	}
	if got := mustGet(t, s, "example.com/log"); got != nil {
		t.Fatalf("canceled update stored %q", got)
	}
}
