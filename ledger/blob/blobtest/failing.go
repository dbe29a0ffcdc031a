package blobtest

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/ledger-dev/ledger/ledger/blob"
)

// ErrKilled is the error of a FailingDir's Put once its writes are spent.
var ErrKilled = errors.New("the run was killed here")

// FailingDir is a real directory whose Puts start failing with ErrKilled
// after Left of them, as a run killed mid-copy leaves it.
type FailingDir struct {
	*blob.Dir
	// Left is how many more Puts succeed.
	Left atomic.Int64
}

// Put writes through to the directory while Left lasts.
func (f *FailingDir) Put(ctx context.Context, name string, data []byte, opts blob.PutOptions) error {
	if f.Left.Add(-1) < 0 {
		return ErrKilled
	}
	return f.Dir.Put(ctx, name, data, opts)
}
