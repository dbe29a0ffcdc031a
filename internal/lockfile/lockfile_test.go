package lockfile

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestTryLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, err := TryLock(path, 0o600)
	if err != nil {
		t.Fatalf("TryLock: %v", err)
	}
	if _, err := TryLock(path, 0o600); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second TryLock while the first is held: %v, want ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := TryLock(path, 0o600)
	if err != nil {
		t.Fatalf("TryLock after the first was released: %v", err)
	}
	again.Close()
}

func TestLockWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	held, err := Lock(path, 0o600)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		f, err := Lock(path, 0o600)
		if err == nil {
			f.Close()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a second Lock returned (%v) while the first was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	held.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("the waiting Lock: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting Lock did not get the lock after it was released")
	}
}

func TestMissingDirectory(t *testing.T) {
	if _, err := TryLock(filepath.Join(t.TempDir(), "missing", "lock"), 0o600); err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("TryLock in a missing directory: %v, want an open error", err)
	}
}
