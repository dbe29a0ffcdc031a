// Package testlog routes the slog output of code under test to t.Logf, so
// that it shows with the test that produced it (and only when it fails or
// runs with -v).
package testlog

import (
	"bytes"
	"log/slog"
	"testing"
)

// New returns a logger that writes every record, debug included, to t.Logf.
func New(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(writer{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimSuffix(p, []byte("\n")))
	return len(p), nil
}
