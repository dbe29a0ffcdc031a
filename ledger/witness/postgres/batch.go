package postgres

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// swap is one compare-and-swap of an origin's row: replace old (nil: no
// row) with value.
type swap struct {
	origin     string
	old, value []byte

	done    chan struct{}
	swapped bool  // the row held old and now holds value
	err     error // the outcome is unknown
}

// batcher runs the swaps of concurrent updates of different origins as one
// statement, so that they share a round trip and a commit (a WAL flush):
// PostgreSQL's fsynced commits, not its statements, are what limits one
// update per statement. Each caller waits for the statement that carries
// its swap; one goroutine runs the statements, one after the other, each
// with every swap queued while the previous ran.
type batcher struct {
	pool *pgxpool.Pool

	mu      sync.Mutex
	pending []*swap
	running bool
}

// swapStatement updates the rows that still hold their old value and
// inserts the origins that have no row, in one statement (one transaction),
// and returns the origins it changed.
const swapStatement = `
WITH v AS (
	SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS v(origin, old, value)
), updated AS (
	UPDATE witness_checkpoints AS w SET checkpoint = v.value, updated_at = now()
	FROM v WHERE v.old IS NOT NULL AND w.origin = v.origin AND w.checkpoint = v.old
	RETURNING w.origin
), inserted AS (
	INSERT INTO witness_checkpoints (origin, checkpoint)
	SELECT origin, value FROM v WHERE v.old IS NULL
	ON CONFLICT (origin) DO NOTHING
	RETURNING origin
)
SELECT origin FROM updated UNION ALL SELECT origin FROM inserted`

// do runs s in the next statement and waits for it. The statement runs
// even if the caller's context ends: its outcome must be known.
func (b *batcher) do(s *swap) {
	s.done = make(chan struct{})
	b.mu.Lock()
	b.pending = append(b.pending, s)
	if !b.running {
		b.running = true
		go b.run()
	}
	b.mu.Unlock()
	<-s.done
}

func (b *batcher) run() {
	for {
		b.mu.Lock()
		batch := b.pending
		b.pending = nil
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.exec(batch)
	}
}

// exec runs one statement for batch, in which each origin appears once
// (a Store serialises the updates of an origin).
func (b *batcher) exec(batch []*swap) {
	origins := make([]string, len(batch))
	olds := make([][]byte, len(batch))
	values := make([][]byte, len(batch))
	for i, s := range batch {
		origins[i], olds[i], values[i] = s.origin, s.old, s.value
	}
	rows, err := b.pool.Query(context.Background(), swapStatement, origins, olds, values)
	var changed []string
	if err == nil {
		changed, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	swapped := make(map[string]bool, len(changed))
	for _, o := range changed {
		swapped[o] = true
	}
	// At this point the statement has committed (or failed as a whole).
	for _, s := range batch {
		s.swapped, s.err = swapped[s.origin], err
		close(s.done)
	}
}
