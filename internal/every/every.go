// Package every runs a function on a fixed interval until its context ends:
// the schedules of the ledger's background work (token reloads, pruning,
// archiving, shredding).
package every

import (
	"context"
	"time"
)

// Run calls fn every interval, the first time one interval from now, until
// ctx is done, and never once it is. A call that takes longer than interval delays the next one
// rather than overlapping it. It returns when ctx is done.
func Run(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if ctx.Err() != nil {
				return
			}
			fn(ctx)
		}
	}
}
