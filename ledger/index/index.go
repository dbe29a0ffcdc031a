// Package index is the query index: a projection of the log into a SQL
// database, one row per entry, with the columns and indexes that the
// auditors' questions need ("what did user X do last month", "who touched
// record Y", "which actors keep failing").
//
// The index is never the source of truth. Every row carries the entry's
// exact leaf bytes and leaf hash; a Follower fills it from the entry bundles
// of the log, Rebuild recreates it from the tiles, and Verify recomputes
// every row against the tiles and reports what differs. A query answer is
// checked by its reader with an inclusion proof of each row's leaf.
//
// This package is the core: rows, queries, the Store contract, the
// Follower, Rebuild and Verify. It links no database driver. Two backends
// implement Store, each in its own package: ledger/index/sqlite (pure Go, a
// file beside the posix log) and ledger/index/postgres (in the log's
// database, beside the postgres storage driver). ledger/index/indextest is
// the contract suite that every backend passes.
package index

import (
	"context"
	"errors"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/tiles"
)

// Row is one indexed entry of the log.
type Row struct {
	// Index is the entry's index in the log.
	Index uint64
	// LeafHash is the RFC 6962 leaf hash of Leaf.
	LeafHash tiles.Hash
	// Leaf is the entry's exact leaf bytes.
	Leaf []byte
	// Columns are the event's fields that queries filter on, taken from
	// Leaf. All are empty for a leaf that is not an event.
	Columns
}

// Columns are the filterable fields of an event.
type Columns struct {
	ID   string
	Time time.Time // the event's timestamp in UTC, truncated to the microsecond
	// Received is when the ledger received the event (a version 2 leaf's
	// received_at) in UTC, truncated to the microsecond; zero for a version
	// 1 leaf, which does not say (it sorts before every other).
	Received time.Time
	// SubmitterType and SubmitterTokenID are the leaf's submitter.type and
	// submitter.token_id; empty for a version 1 leaf.
	SubmitterType    string
	SubmitterTokenID string
	TenantID         string
	EventType        string
	Action           string
	ActorID          string
	ActorType        string
	ResourceType     string
	ResourceID       string
	Result           string
}

// NewRow returns the row of the entry at index. A leaf that is not an event
// (event.ParseLeaf fails) still gets a row, with empty columns, so that the
// index never stops at it; ok reports whether the leaf was an event.
func NewRow(index uint64, leaf []byte) (r Row, ok bool) {
	r = Row{Index: index, LeafHash: tiles.LeafHash(leaf), Leaf: leaf}
	ev, err := event.ParseLeaf(leaf)
	if err != nil {
		return r, false
	}
	r.Columns = Columns{
		ID: ev.ID, Time: micro(ev.Timestamp), Received: micro(ev.ReceivedAt),
		SubmitterType: ev.Submitter.Type, SubmitterTokenID: ev.Submitter.TokenID,
		TenantID: ev.TenantID, EventType: ev.EventType, Action: ev.Action,
		ActorID: ev.Actor.ID, ActorType: ev.Actor.Type, ResourceType: ev.Resource.Type, ResourceID: ev.Resource.ID,
		Result: ev.Result,
	}
	return r, true
}

// micro truncates t to the microsecond, the precision the index keeps
// (PostgreSQL's), in UTC. A zero t stays zero.
func micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// TimeColumn is the time a query's window and order are by.
type TimeColumn int

// The times of an entry.
const (
	// ByTimestamp is the event's own timestamp (Columns.Time).
	ByTimestamp TimeColumn = iota
	// ByReceived is when the ledger received the event (Columns.Received).
	ByReceived
)

// Filter selects rows. Empty fields match everything; non-empty ones must
// equal the column. The time window is [Since, Until) at microsecond
// precision, of the time By names; a zero bound is open.
type Filter struct {
	ActorID, ActorType, Action, EventType, ResourceType, ResourceID, Result, TenantID string
	SubmitterTokenID                                                                  string
	Since, Until                                                                      time.Time
	// By is the time that Since and Until bound and that NewestFirst and
	// OldestFirst order by.
	By TimeColumn
}

// Matches reports whether f selects r: every non-empty field equals its
// column, and r's time of f.By lies in the window. It is how a reader that
// has the leaves but no index (an archive's bundles) applies a filter.
func (f Filter) Matches(r Row) bool {
	for _, c := range []struct{ want, got string }{
		{f.ActorID, r.ActorID}, {f.ActorType, r.ActorType}, {f.Action, r.Action}, {f.EventType, r.EventType},
		{f.ResourceType, r.ResourceType}, {f.ResourceID, r.ResourceID}, {f.Result, r.Result}, {f.TenantID, r.TenantID},
		{f.SubmitterTokenID, r.SubmitterTokenID},
	} {
		if c.want != "" && c.want != c.got {
			return false
		}
	}
	t := r.timeOf(f.By)
	return (f.Since.IsZero() || !t.Before(micro(f.Since))) && (f.Until.IsZero() || t.Before(micro(f.Until)))
}

// timeOf returns r's time of column by.
func (r Row) timeOf(by TimeColumn) time.Time {
	if by == ByReceived {
		return r.Received
	}
	return r.Time
}

// Order is the order of a query's rows.
type Order int

// The orders rows can come in.
const (
	// NewestFirst orders by the Filter's time (By) then index, descending.
	NewestFirst Order = iota
	// OldestFirst orders by the Filter's time (By) then index, ascending.
	OldestFirst
	// ByIndex orders by index, ascending.
	ByIndex
)

// Cursor is a keyset position in a query's order: the query returns the
// rows strictly after it. Time is of the time column the query orders by,
// and ignored in ByIndex order.
type Cursor struct {
	Time  time.Time
	Index uint64
}

// CursorOf returns the cursor just after r in an order by the time by.
func CursorOf(r Row, by TimeColumn) Cursor { return Cursor{Time: r.timeOf(by), Index: r.Index} }

// Query is one page of a query.
type Query struct {
	Filter
	// Below restricts rows to indexes below it: the published tree size.
	Below uint64
	// After, if set, starts the page just after that position.
	After *Cursor
	// Order is the order of rows.
	Order Order
	// Limit is the most rows returned; it must be positive.
	Limit int
}

// FailureQuery asks for the actors with at least Threshold failed or denied
// attempts among the rows that Filter selects (its Result is ignored).
type FailureQuery struct {
	Filter
	// Below restricts rows to indexes below it: the published tree size.
	Below uint64
	// Threshold is the fewest failed attempts reported; at least 1.
	Threshold int
	// Limit is the most actors returned; it must be positive.
	Limit int
}

// Failure is one actor's failed attempts in a FailureQuery's window.
type Failure struct {
	ActorType, ActorID string
	// Count is the number of failed or denied attempts.
	Count int
	// First and Last are the timestamps of the earliest and latest one.
	First, Last time.Time
}

// Store is a backend of the index. Rows Minimum to Size-1 are always all
// present, with no others: rows are only added by Append, in index order,
// and removed by Prune from the left (Minimum is 0 until then).
type Store interface {
	// Size returns how many entries are indexed.
	Size(ctx context.Context) (uint64, error)
	// Append atomically adds the rows of entries from, from+1, ..., if the
	// index's size is still from; otherwise it returns ErrConflict and
	// changes nothing. Rows must have consecutive indexes starting at from.
	Append(ctx context.Context, from uint64, rows []Row) error
	// Reset deletes every row; the size becomes 0.
	Reset(ctx context.Context) error
	// Prune deletes the rows below minimum, the log's minimum index, and
	// if the index holds fewer than minimum entries, makes its size
	// minimum: the log no longer has the entries below it to index. It
	// is idempotent.
	Prune(ctx context.Context, minimum uint64) error
	// Query returns the rows q selects, in q's order, at most q.Limit.
	Query(ctx context.Context, q Query) ([]Row, error)
}

// ErrConflict is returned by Store.Append when the index's size is not the
// one the rows start at: another writer moved it.
var ErrConflict = errors.New("index size changed underneath the append")

// ErrAhead is returned by Follower.Sync when the index holds more entries
// than the log: the log was rolled back or replaced under an index that was
// kept. Its rows beyond the log are not the log's, and the follower does
// not index the log's new entries over them.
var ErrAhead = errors.New("the query index is ahead of the log")
