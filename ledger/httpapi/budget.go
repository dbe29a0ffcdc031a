package httpapi

import (
	"errors"
	"io"

	"golang.org/x/sync/semaphore"
)

// errBodyBudget answers a request whose body would take the server over
// Config.MaxBodyMemory: 503 + Retry-After, like a pushback.
var errBodyBudget = errors.New("the server is reading as many request bodies as it can hold; retry shortly")

// budgetChunk bounds what one Read of a budgeted body reserves.
const budgetChunk = 256 << 10

// budgetReader reads a request body, reserving each chunk from the
// server's body budget before reading it: a body is read only as far as
// the budget affords, and the bytes a slow client has not sent yet cost
// nothing. Release gives back what was read.
type budgetReader struct {
	r    io.Reader
	sem  *semaphore.Weighted
	held int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	n := min(len(p), budgetChunk)
	if n == 0 {
		return 0, nil
	}
	if !b.sem.TryAcquire(int64(n)) {
		return 0, errBodyBudget
	}
	got, err := b.r.Read(p[:n])
	b.sem.Release(int64(n - got))
	b.held += int64(got)
	return got, err
}

// release returns the bytes read to the budget, once the body and what was
// decoded from it are no longer needed.
func (b *budgetReader) release() {
	b.sem.Release(b.held)
	b.held = 0
}
