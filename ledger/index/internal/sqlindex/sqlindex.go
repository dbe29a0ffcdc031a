// Package sqlindex is the SQL that the index's SQLite and PostgreSQL
// backends share: the columns, the queries and the scanning of their rows.
// Each backend creates its own tables (index_entries, index_state) with
// these columns; the secondary indexes each query needs are listed in
// docs/query.md.
// SQLite and PostgreSQL accept the same $N placeholders, row-value
// comparisons and ON CONFLICT clauses, so one text serves both. It links
// no database driver: a backend hands it a QueryFunc over its own.
//
// Timestamps are stored as microseconds since the Unix epoch (BIGINT), the
// precision of PostgreSQL timestamps, which also spans every RFC 3339 year.
// Indexes are stored as BIGINT: a log index is below 2^63 in practice, and
// bounds above that are clamped.
package sqlindex

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/tiles"
)

// Columns are the columns of index_entries, in the order of Values and
// ScanRow. The leaf hash is not among them: it is the hash of the leaf,
// computed again when a row is read.
var Columns = []string{"log_index", "leaf", "id", "ts", "tenant_id", "event_type", "action",
	"actor_id", "actor_type", "resource_type", "resource_id", "result", "received", "submitter_type", "submitter_token_id"}

// rowColumns is Columns as a SELECT or INSERT list.
var rowColumns = strings.Join(Columns, ", ")

const (
	// SizeSQL reads the index's size; ReadSize scans its result.
	SizeSQL = `SELECT size FROM index_state WHERE id = 1`
	// SetSizeSQL sets the index's size to $1.
	SetSizeSQL = `UPDATE index_state SET size = $1 WHERE id = 1`
	// FirstRowSQL reads the lowest index of a row (NULL for none),
	// PruneSQL deletes the rows below $1, and PruneSizeSQL raises the size
	// to $1 if it is below.
	FirstRowSQL  = `SELECT min(log_index) FROM index_entries`
	PruneSQL     = `DELETE FROM index_entries WHERE log_index < $1`
	PruneSizeSQL = `UPDATE index_state SET size = $1 WHERE id = 1 AND size < $1`
	// PruneChunk is how many rows one transaction of a prune deletes at
	// most, so that appends and other prunes of the index (the follower's,
	// a run's) wait for one chunk at a time, never for the whole prune.
	PruneChunk = 16384
)

// Scanner is a result row: what both database/sql and pgx rows offer.
type Scanner interface{ Scan(dest ...any) error }

// PruneChunks deletes the rows below minimum, PruneChunk rows a statement
// from the lowest (first returns it, ok false for an empty index), and
// then raises the index's size to minimum if it is below. exec runs one
// statement with one argument, in a transaction of its own.
func PruneChunks(ctx context.Context, minimum uint64, first func(ctx context.Context) (lo int64, ok bool, err error), exec func(ctx context.Context, stmt string, arg int64) error) error {
	m := clampIndex(minimum)
	lo, ok, err := first(ctx)
	if err != nil {
		return err
	}
	for ok && lo < m {
		lo = min(lo+PruneChunk, m)
		if err := exec(ctx, PruneSQL, lo); err != nil {
			return err
		}
	}
	return exec(ctx, PruneSizeSQL, m)
}

// ReadSize scans the result of SizeSQL.
func ReadSize(r Scanner) (uint64, error) {
	var size int64
	if err := r.Scan(&size); err != nil {
		return 0, fmt.Errorf("couldn't read the index size: %w", err)
	}
	return uint64(size), nil
}

// CheckAppend checks that rows are numbered from, from+1, ... and that the
// index's size is from; otherwise an append must change nothing. The
// error of a size that moved wraps index.ErrConflict.
func CheckAppend(from, size uint64, rows []index.Row) error {
	for i := range rows {
		if rows[i].Index != from+uint64(i) {
			return fmt.Errorf("index: row %d of an append at %d has index %d", i, from, rows[i].Index)
		}
	}
	if size != from {
		return fmt.Errorf("%w: appending at %d, but the size is %d", index.ErrConflict, from, size)
	}
	return nil
}

// Values returns the column values of r, in Columns order.
func Values(r *index.Row) []any {
	return []any{int64(r.Index), r.Leaf, r.ID, r.Time.UnixMicro(), r.TenantID, r.EventType, r.Action,
		r.ActorID, r.ActorType, r.ResourceType, r.ResourceID, r.Result, receivedMicros(r.Received), r.SubmitterType, r.SubmitterTokenID}
}

// Rows is a result set: what pgx.Rows offers, and *sql.Rows with a Close
// that returns nothing.
type Rows interface {
	Scanner
	Next() bool
	Err() error
	Close()
}

// QueryFunc runs a query on a backend's database.
type QueryFunc func(ctx context.Context, sql string, args ...any) (Rows, error)

// Query returns the rows q selects, in q's order: index.Store.Query over
// run.
func Query(ctx context.Context, run QueryFunc, q index.Query) ([]index.Row, error) {
	if q.Limit <= 0 {
		return nil, errors.New("index: Query.Limit must be positive")
	}
	text, a := querySQL(q)
	return collect(ctx, run, text, a, scanRow)
}

// Failures returns the actors with at least q.Threshold failed or denied
// attempts, most first.
func Failures(ctx context.Context, run QueryFunc, q index.FailureQuery) ([]index.Failure, error) {
	if q.Limit <= 0 || q.Threshold <= 0 {
		return nil, errors.New("index: FailureQuery.Limit and Threshold must be positive")
	}
	text, a := failuresSQL(q)
	return collect(ctx, run, text, a, scanFailure)
}

// collect runs a query and scans every row of its result.
func collect[T any](ctx context.Context, run QueryFunc, text string, a args, scan func(Scanner) (T, error)) ([]T, error) {
	rows, err := run(ctx, text, a...)
	if err != nil {
		return nil, fmt.Errorf("couldn't query the index: %w", err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("couldn't read an index row: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("couldn't read index rows: %w", err)
	}
	return out, nil
}

// args collects query arguments and hands out their placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// clampIndex converts a log index bound to the BIGINT the tables hold.
func clampIndex(i uint64) int64 {
	if i > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(i)
}

// where returns the conditions of f and below, joined with AND.
func where(f index.Filter, a *args, below uint64) []string {
	conds := []string{"log_index < " + a.add(clampIndex(below))}
	for _, c := range []struct{ col, v string }{
		{"actor_id", f.ActorID}, {"actor_type", f.ActorType}, {"action", f.Action}, {"event_type", f.EventType},
		{"resource_type", f.ResourceType}, {"resource_id", f.ResourceID}, {"result", f.Result}, {"tenant_id", f.TenantID},
		{"submitter_token_id", f.SubmitterTokenID},
	} {
		if c.v != "" {
			conds = append(conds, c.col+" = "+a.add(c.v))
		}
	}
	ts := timeColumn(f.By)
	if !f.Since.IsZero() {
		conds = append(conds, ts+" >= "+a.add(f.Since.UnixMicro()))
	}
	if !f.Until.IsZero() {
		conds = append(conds, ts+" < "+a.add(f.Until.UnixMicro()))
	}
	return conds
}

// timeColumn is the column of the time by.
func timeColumn(by index.TimeColumn) string {
	if by == index.ByReceived {
		return "received"
	}
	return "ts"
}

// querySQL returns the SELECT for q and its arguments.
func querySQL(q index.Query) (string, args) {
	var a args
	conds := where(q.Filter, &a, q.Below)
	var order string
	ts := timeColumn(q.By)
	switch q.Order {
	case index.NewestFirst:
		order = ts + " DESC, log_index DESC"
		if q.After != nil {
			conds = append(conds, fmt.Sprintf("(%s, log_index) < (%s, %s)", ts, a.add(q.After.Time.UnixMicro()), a.add(clampIndex(q.After.Index))))
		}
	case index.OldestFirst:
		order = ts + ", log_index"
		if q.After != nil {
			conds = append(conds, fmt.Sprintf("(%s, log_index) > (%s, %s)", ts, a.add(q.After.Time.UnixMicro()), a.add(clampIndex(q.After.Index))))
		}
	case index.ByIndex:
		order = "log_index"
		if q.After != nil {
			conds = append(conds, "log_index > "+a.add(clampIndex(q.After.Index)))
		}
	default:
		panic(fmt.Sprintf("index: bad order %d", q.Order))
	}
	return fmt.Sprintf("SELECT %s FROM index_entries WHERE %s ORDER BY %s LIMIT %s",
		rowColumns, strings.Join(conds, " AND "), order, a.add(q.Limit)), a
}

// failuresSQL returns the aggregate query for q and its arguments.
func failuresSQL(q index.FailureQuery) (string, args) {
	var a args
	f := q.Filter
	f.Result = ""
	conds := append(where(f, &a, q.Below), "result IN ('failure', 'denied')")
	return fmt.Sprintf(`SELECT actor_type, actor_id, COUNT(*), MIN(ts), MAX(ts) FROM index_entries WHERE %s
		GROUP BY actor_type, actor_id HAVING COUNT(*) >= %s ORDER BY COUNT(*) DESC, actor_type, actor_id LIMIT %s`,
		strings.Join(conds, " AND "), a.add(q.Threshold), a.add(q.Limit)), a
}

// receivedMicros is the received column of a receive time: 0 for none (a
// version 1 leaf), the default the column was added with.
func receivedMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// timeOf returns the timestamp stored as us microseconds.
func timeOf(us int64) time.Time { return time.UnixMicro(us).UTC() }

// scanRow reads a row selected with rowColumns.
func scanRow(s Scanner) (index.Row, error) {
	var r index.Row
	var i, ts, received int64
	if err := s.Scan(&i, &r.Leaf, &r.ID, &ts, &r.TenantID, &r.EventType, &r.Action,
		&r.ActorID, &r.ActorType, &r.ResourceType, &r.ResourceID, &r.Result, &received, &r.SubmitterType, &r.SubmitterTokenID); err != nil {
		return index.Row{}, err
	}
	if i < 0 {
		return index.Row{}, fmt.Errorf("index row has the negative index %d", i)
	}
	r.Index, r.LeafHash, r.Time = uint64(i), tiles.LeafHash(r.Leaf), timeOf(ts)
	if received != 0 {
		r.Received = timeOf(received)
	}
	return r, nil
}

// scanFailure reads a row of failuresSQL.
func scanFailure(s Scanner) (index.Failure, error) {
	var f index.Failure
	var first, last int64
	if err := s.Scan(&f.ActorType, &f.ActorID, &f.Count, &first, &last); err != nil {
		return index.Failure{}, err
	}
	f.First, f.Last = timeOf(first), timeOf(last)
	return f, nil
}
