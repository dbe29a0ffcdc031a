package httpapi

import (
	"errors"
	"io"

	"golang.org/x/sync/semaphore"
)

// errBodyBudget answers a request whose body would take the server over
// Config.MaxBodyMemory: 503 + Retry-After, like a pushback.
var errBodyBudget = errors.New("the server is reading as many request bodies as it can hold; retry shortly")

// budgetPrefix is how much of a body is reserved as it arrives, chunk by
// chunk, before the rest is reserved at once.
const budgetPrefix = 256 << 10

// budgetReader reads a request body against the server's body budget. The
// first budgetPrefix bytes are reserved as they arrive, so a slow client
// holds only what it has sent; then the rest of the body, as long as its
// Content-Length says (or the largest body allowed, if it did not say), is
// reserved at once before more is read, or the read fails with
// errBodyBudget. Reserving the rest whole means that bodies competing for
// the budget do not each take a part of it and all fail: one gets it, the
// others are refused early. release gives back what was reserved.
type budgetReader struct {
	r    io.Reader
	sem  *semaphore.Weighted
	size int64 // the body's length, or the largest allowed
	held int64 // reserved
	read int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.held < b.size {
		n := min(int64(len(p)), b.size-b.read)
		want := b.read + n // reserved once this read is done
		if want > budgetPrefix {
			want = b.size
		}
		if want > b.held {
			if !b.sem.TryAcquire(want - b.held) {
				return 0, errBodyBudget
			}
			b.held = want
		}
	}
	got, err := b.r.Read(p[:min(int64(len(p)), b.held-b.read+1)])
	b.read += int64(got)
	return got, err
}

// release returns the reservation to the budget, once the body and what was
// decoded from it are no longer needed.
func (b *budgetReader) release() {
	b.sem.Release(b.held)
	b.held = 0
}
