package main

import (
	"context"

	"github.com/schollz/progressbar/v3"

	"github.com/ledger-dev/ledger/ledger/index"
)

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
