package every_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/every"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var calls atomic.Int32
	done := make(chan struct{})
	go func() {
		every.Run(ctx, time.Millisecond, func(context.Context) {
			if calls.Add(1) == 3 {
				cancel()
			}
		})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("fn ran %d times, want 3 (none after the cancel)", n)
	}
}

func TestRunWaitsOneInterval(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	ran := false
	every.Run(ctx, time.Hour, func(context.Context) { ran = true })
	if ran {
		t.Error("fn ran before one interval had passed")
	}
}
