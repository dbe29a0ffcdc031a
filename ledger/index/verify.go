package index

import (
	"context"
	"fmt"
	"math"

	"github.com/ledger-dev/ledger/tiles"
)

// Mismatch is a row of the index that does not match the log.
type Mismatch struct {
	// Index is the log index of the row (or of the missing row).
	Index uint64
	// Problem says what differs.
	Problem string
}

// String formats the mismatch as "entry N: problem".
func (m Mismatch) String() string { return fmt.Sprintf("entry %d: %s", m.Index, m.Problem) }

// Report is the outcome of Verify.
type Report struct {
	// Checked is how many rows were compared with the log.
	Checked uint64
	// Beyond is how many rows were not checked because they are beyond the
	// size verified (the index may run ahead of a published checkpoint).
	Beyond uint64
	Problems
}

// MaxMismatches bounds Problems.Mismatches.
const MaxMismatches = 1000

// Problems are the problems a check of a projection of the log (the
// query index, the key index) finds.
type Problems struct {
	// Mismatches lists the first MaxMismatches problems found, in index
	// order.
	Mismatches []Mismatch
	// Total is the number of problems found.
	Total int
}

// Add records a problem with the entry at index.
func (m *Problems) Add(index uint64, format string, args ...any) {
	m.Total++
	if len(m.Mismatches) < MaxMismatches {
		m.Mismatches = append(m.Mismatches, Mismatch{Index: index, Problem: fmt.Sprintf(format, args...)})
	}
}

// verifyPage is how many rows Verify reads at a time.
const verifyPage = 4096

// Verify compares every row of the index with the entries of the log from
// minimum, its minimum index (0 for a log never pruned), up to size: each
// row's leaf hash must equal the leaf hash in the log's level-0 tile and be
// the hash of the row's leaf bytes, and its columns must be the ones its
// leaf yields. Entries from minimum and below both the index's size and
// size must all have a row; a row below minimum is a problem (the index
// keeps an entry the log pruned). Rows at or beyond size are counted, not
// checked. Verify reads no entry bundle: the leaf hashes are in the hash
// tiles, which a pruned log keeps.
func Verify(ctx context.Context, s Store, l Log, minimum, size uint64) (*Report, error) {
	indexed, err := s.Size(ctx)
	if err != nil {
		return nil, err
	}
	r := &Report{}
	v := verifier{l: l, size: size, tile: math.MaxUint64}
	next := minimum // the index the next row should have
	var after *Cursor
	for {
		rows, err := s.Query(ctx, Query{Below: math.MaxUint64, Order: ByIndex, After: after, Limit: verifyPage})
		if err != nil {
			return nil, err
		}
		for i := range rows {
			row := &rows[i]
			if row.Index < minimum {
				r.Add(row.Index, "a row of an entry the log pruned (its minimum index is %d)", minimum)
				continue
			}
			for ; next < row.Index && next < size; next++ {
				r.Add(next, "no row in the index")
			}
			next = row.Index + 1
			if row.Index >= size {
				r.Beyond++
				continue
			}
			if err := v.check(ctx, row, r); err != nil {
				return nil, err
			}
			r.Checked++
		}
		if len(rows) < verifyPage {
			break
		}
		after = &Cursor{Index: rows[len(rows)-1].Index}
	}
	for ; next < min(indexed, size); next++ {
		r.Add(next, "no row in the index")
	}
	return r, nil
}

// verifier checks rows against the log's level-0 tiles, one tile at a time.
type verifier struct {
	l      Log
	size   uint64
	tile   uint64 // the tile in hashes
	hashes []tiles.Hash
}

func (v *verifier) check(ctx context.Context, row *Row, r *Report) error {
	if n := row.Index / tiles.TileWidth; n != v.tile {
		hs, err := v.l.LeafHashes(ctx, n, v.size)
		if err != nil {
			return fmt.Errorf("couldn't read the leaf hashes of entries %d to %d: %w", n*tiles.TileWidth, n*tiles.TileWidth+tiles.TileWidth-1, err)
		}
		v.tile, v.hashes = n, hs
	}
	want := v.hashes[row.Index%tiles.TileWidth]
	if row.LeafHash != want {
		r.Add(row.Index, "leaf hash %s in the index, %s in the log", row.LeafHash, want)
	}
	if got := tiles.LeafHash(row.Leaf); got != row.LeafHash {
		// A backend that keeps the hash apart from the leaf (the SQL ones
		// compute it from the leaf).
		r.Add(row.Index, "the leaf in the index hashes to %s, not to its leaf hash %s", got, row.LeafHash)
	}
	fresh, _ := NewRow(row.Index, row.Leaf)
	for _, d := range diffColumns(row.Columns, fresh.Columns) {
		r.Add(row.Index, "%s", d)
	}
	return nil
}

// diffColumns describes how the columns got differ from those of the leaf.
func diffColumns(got, leaf Columns) []string {
	var out []string
	for _, c := range []struct{ name, got, leaf string }{
		{"id", got.ID, leaf.ID}, {"tenant_id", got.TenantID, leaf.TenantID}, {"event_type", got.EventType, leaf.EventType},
		{"action", got.Action, leaf.Action}, {"actor_id", got.ActorID, leaf.ActorID}, {"actor_type", got.ActorType, leaf.ActorType},
		{"resource_type", got.ResourceType, leaf.ResourceType}, {"resource_id", got.ResourceID, leaf.ResourceID},
		{"result", got.Result, leaf.Result}, {"submitter_type", got.SubmitterType, leaf.SubmitterType},
		{"submitter_token_id", got.SubmitterTokenID, leaf.SubmitterTokenID},
	} {
		if c.got != c.leaf {
			out = append(out, fmt.Sprintf("column %s is %q in the index but %q in the leaf", c.name, c.got, c.leaf))
		}
	}
	if !got.Time.Equal(leaf.Time) {
		out = append(out, fmt.Sprintf("column timestamp is %s in the index but %s in the leaf", got.Time.Format(timeFormat), leaf.Time.Format(timeFormat)))
	}
	if !got.Received.Equal(leaf.Received) {
		out = append(out, fmt.Sprintf("column received is %s in the index but %s in the leaf", got.Received.Format(timeFormat), leaf.Received.Format(timeFormat)))
	}
	return out
}

// timeFormat is how timestamps are written: RFC 3339 with microseconds when
// there are any.
const timeFormat = "2006-01-02T15:04:05.999999Z07:00"
