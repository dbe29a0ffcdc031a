package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/ledger-dev/ledger/ledger/index"
)

// newBar returns a progress bar of total entries (-1: unknown) on w, shown
// only when w is a terminal: a long command shows how far it is, and its
// output piped or logged stays clean.
func newBar(w io.Writer, total int64, what string) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	visible := ok && term.IsTerminal(int(f.Fd()))
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("entries"),
		progressbar.OptionThrottle(200 * time.Millisecond),
		progressbar.OptionSetPredictTime(true),
	}
	if visible { // Finish calls it even when the bar is not shown
		opts = append(opts, progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
	}
	return progressbar.NewOptions64(total, opts...)
}

// progressLog is an index.Log that advances a bar by the entries read.
type progressLog struct {
	index.Log
	bar *progressbar.ProgressBar
}

func (l progressLog) Bundle(ctx context.Context, n, size uint64) ([][]byte, error) {
	entries, err := l.Log.Bundle(ctx, n, size)
	l.bar.Add(len(entries))
	return entries, err
}
