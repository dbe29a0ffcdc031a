package index

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// The SQL below is shared by both backends: SQLite and PostgreSQL accept the
// same $N placeholders, row-value comparisons and ON CONFLICT clauses.
//
// Timestamps are stored as microseconds since the Unix epoch (BIGINT), the
// precision of PostgreSQL timestamps, which also spans every RFC 3339 year.
// Indexes are stored as BIGINT: a log index is below 2^63 in practice, and
// bounds above that are clamped.

// rowColumns are the columns of a row, in the order scanRow reads them.
const rowColumns = `log_index, leaf_hash, leaf, id, ts, tenant_id, event_type, action, actor_id, actor_type, resource_type, resource_id, result`

// indexDDL are the secondary indexes, one per question the seeds ask: an
// actor's activity over time, a resource's history, failed attempts over
// time, a tenant's events, and plain time windows. Each ends in (ts,
// log_index) so that a page in timestamp order is a range scan.
var indexDDL = []string{
	`CREATE INDEX IF NOT EXISTS index_entries_actor ON index_entries (actor_id, ts, log_index)`,
	`CREATE INDEX IF NOT EXISTS index_entries_resource ON index_entries (resource_type, resource_id, ts, log_index)`,
	`CREATE INDEX IF NOT EXISTS index_entries_result ON index_entries (result, ts, log_index)`,
	`CREATE INDEX IF NOT EXISTS index_entries_tenant ON index_entries (tenant_id, ts, log_index)`,
	`CREATE INDEX IF NOT EXISTS index_entries_ts ON index_entries (ts, log_index)`,
}

// tableDDL returns the table definitions with the backend's type for bytes.
func tableDDL(blob string) []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS index_entries (
			log_index BIGINT PRIMARY KEY,
			leaf_hash ` + blob + ` NOT NULL,
			leaf ` + blob + ` NOT NULL,
			id TEXT NOT NULL,
			ts BIGINT NOT NULL,
			tenant_id TEXT NOT NULL,
			event_type TEXT NOT NULL,
			action TEXT NOT NULL,
			actor_id TEXT NOT NULL,
			actor_type TEXT NOT NULL,
			resource_type TEXT NOT NULL,
			resource_id TEXT NOT NULL,
			result TEXT NOT NULL)`,
		// index_state has one row: how many entries are indexed.
		`CREATE TABLE IF NOT EXISTS index_state (id INTEGER PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL)`,
		`INSERT INTO index_state (id, size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`,
	}
}

// sizeSQL reads the index's size.
const sizeSQL = `SELECT size FROM index_state WHERE id = 1`

// readSize scans the result of sizeSQL.
func readSize(r scanner) (uint64, error) {
	var size int64
	if err := r.Scan(&size); err != nil {
		return 0, fmt.Errorf("couldn't read the index size: %w", err)
	}
	return uint64(size), nil
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
func (f Filter) where(a *args, below uint64) []string {
	conds := []string{"log_index < " + a.add(clampIndex(below))}
	for _, c := range []struct{ col, v string }{
		{"actor_id", f.ActorID}, {"actor_type", f.ActorType}, {"action", f.Action}, {"event_type", f.EventType},
		{"resource_type", f.ResourceType}, {"resource_id", f.ResourceID}, {"result", f.Result}, {"tenant_id", f.TenantID},
	} {
		if c.v != "" {
			conds = append(conds, c.col+" = "+a.add(c.v))
		}
	}
	if !f.Since.IsZero() {
		conds = append(conds, "ts >= "+a.add(f.Since.UnixMicro()))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "ts < "+a.add(f.Until.UnixMicro()))
	}
	return conds
}

// querySQL returns the SELECT for q and its arguments.
func querySQL(q Query) (string, args) {
	var a args
	conds := q.Filter.where(&a, q.Below)
	var order string
	switch q.Order {
	case NewestFirst:
		order = "ts DESC, log_index DESC"
		if q.After != nil {
			conds = append(conds, fmt.Sprintf("(ts, log_index) < (%s, %s)", a.add(q.After.Time.UnixMicro()), a.add(clampIndex(q.After.Index))))
		}
	case OldestFirst:
		order = "ts, log_index"
		if q.After != nil {
			conds = append(conds, fmt.Sprintf("(ts, log_index) > (%s, %s)", a.add(q.After.Time.UnixMicro()), a.add(clampIndex(q.After.Index))))
		}
	case ByIndex:
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
func failuresSQL(q FailureQuery) (string, args) {
	var a args
	f := q.Filter
	f.Result = ""
	conds := append(f.where(&a, q.Below), "result IN ('failure', 'denied')")
	return fmt.Sprintf(`SELECT actor_type, actor_id, COUNT(*), MIN(ts), MAX(ts) FROM index_entries WHERE %s
		GROUP BY actor_type, actor_id HAVING COUNT(*) >= %s ORDER BY COUNT(*) DESC, actor_type, actor_id LIMIT %s`,
		strings.Join(conds, " AND "), a.add(q.Threshold), a.add(q.Limit)), a
}

// insertSQL returns a multi-row INSERT of n rows with anonymous ?
// placeholders (SQLite looks up each $N by a linear scan of the names).
func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO index_entries (" + rowColumns + ") VALUES ")
	const cols = 13
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

// values returns the column values of r, in rowColumns order.
func (r *Row) values() []any {
	return []any{int64(r.Index), r.LeafHash[:], r.Leaf, r.ID, r.Time.UnixMicro(), r.TenantID, r.EventType, r.Action,
		r.ActorID, r.ActorType, r.ResourceType, r.ResourceID, r.Result}
}

// timeOf returns the timestamp stored as us microseconds.
func timeOf(us int64) time.Time { return time.UnixMicro(us).UTC() }

// scanner is what both sql.Rows and pgx.Rows offer.
type scanner interface{ Scan(dest ...any) error }

// scanRow reads a row selected with rowColumns.
func scanRow(s scanner) (Row, error) {
	var r Row
	var index, ts int64
	var hash []byte
	if err := s.Scan(&index, &hash, &r.Leaf, &r.ID, &ts, &r.TenantID, &r.EventType, &r.Action,
		&r.ActorID, &r.ActorType, &r.ResourceType, &r.ResourceID, &r.Result); err != nil {
		return Row{}, err
	}
	if index < 0 || len(hash) != tiles.HashSize {
		return Row{}, fmt.Errorf("index row %d has a leaf hash of %d bytes", index, len(hash))
	}
	r.Index, r.LeafHash, r.Time = uint64(index), tiles.Hash(hash), timeOf(ts)
	return r, nil
}

// scanFailure reads a row of failuresSQL.
func scanFailure(s scanner) (Failure, error) {
	var f Failure
	var first, last int64
	if err := s.Scan(&f.ActorType, &f.ActorID, &f.Count, &first, &last); err != nil {
		return Failure{}, err
	}
	f.First, f.Last = timeOf(first), timeOf(last)
	return f, nil
}

// checkRows checks that rows are numbered from, from+1, ...
func checkRows(from uint64, rows []Row) error {
	for i := range rows {
		if rows[i].Index != from+uint64(i) {
			return fmt.Errorf("index: row %d of an append at %d has index %d", i, from, rows[i].Index)
		}
	}
	return nil
}

// check validates a query.
func (q Query) check() error {
	if q.Limit <= 0 {
		return errors.New("index: Query.Limit must be positive")
	}
	return nil
}

// check validates a failure query.
func (q FailureQuery) check() error {
	if q.Limit <= 0 || q.Threshold <= 0 {
		return errors.New("index: FailureQuery.Limit and Threshold must be positive")
	}
	return nil
}
