package index

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// SQLite is the embedded backend: one SQLite database file, in WAL mode so
// that queries never wait for the follower's writes. It implements Store.
// Several processes may open the same file (a `ledger index verify` beside a
// running server); writers take turns.
type SQLite struct {
	db *sql.DB
}

// maxInsertRows bounds the rows of one INSERT statement (13 parameters
// each, well under SQLite's limit of 32766 parameters).
const maxInsertRows = 500

// OpenSQLite opens (creating if needed) the index database at path.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	// Durability: synchronous=NORMAL in WAL mode survives a process crash
	// but may lose the last transactions on power loss, which is fine for
	// a projection the follower refills from the log. Transactions start
	// IMMEDIATE so that Append's read of the size and its writes are one
	// atomic step across processes.
	q := url.Values{"_txlock": {"immediate"}, "_pragma": {"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)"}}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("couldn't open index %s: %w", path, err)
	}
	s := &SQLite{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("couldn't create the index schema in %s: %w", path, err)
	}
	return s, nil
}

func (s *SQLite) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range append(tableDDL("BLOB"), indexDDL...) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// DB returns the database handle, for tests that change rows behind the
// index's back.
func (s *SQLite) DB() *sql.DB { return s.db }

// Size returns how many entries are indexed.
func (s *SQLite) Size(ctx context.Context) (uint64, error) {
	return readSize(s.db.QueryRowContext(ctx, sizeSQL))
}

// Append adds rows for entries from, from+1, ... if the size is from.
func (s *SQLite) Append(ctx context.Context, from uint64, rows []Row) error {
	if err := checkRows(from, rows); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("couldn't start an index transaction: %w", err)
	}
	defer tx.Rollback()
	size, err := readSize(tx.QueryRowContext(ctx, sizeSQL))
	if err != nil {
		return err
	}
	if size != from {
		return fmt.Errorf("%w: appending at %d, but the size is %d", ErrConflict, from, size)
	}
	if err := insertRows(ctx, tx, rows); err != nil {
		return fmt.Errorf("couldn't insert index rows: %w", err)
	}
	from += uint64(len(rows))
	if _, err := tx.ExecContext(ctx, `UPDATE index_state SET size = $1 WHERE id = 1`, int64(from)); err != nil {
		return fmt.Errorf("couldn't update the index size: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("couldn't commit index rows: %w", err)
	}
	return nil
}

// insertRows inserts rows in statements of maxInsertRows rows; the
// statement for a full chunk is prepared once.
func insertRows(ctx context.Context, tx *sql.Tx, rows []Row) error {
	var full *sql.Stmt
	vals := make([]any, 0, 13*min(len(rows), maxInsertRows))
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), maxInsertRows)]
		rows = rows[len(chunk):]
		vals = vals[:0]
		for i := range chunk {
			vals = append(vals, chunk[i].values()...)
		}
		var err error
		switch {
		case len(chunk) < maxInsertRows:
			_, err = tx.ExecContext(ctx, insertSQL(len(chunk)), vals...)
		case full == nil:
			if full, err = tx.PrepareContext(ctx, insertSQL(maxInsertRows)); err != nil {
				return err
			}
			defer full.Close()
			fallthrough
		default:
			_, err = full.ExecContext(ctx, vals...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Reset deletes every row.
func (s *SQLite) Reset(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("couldn't start an index transaction: %w", err)
	}
	defer tx.Rollback()
	for _, stmt := range []string{`DELETE FROM index_entries`, `UPDATE index_state SET size = 0 WHERE id = 1`} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("couldn't reset the index: %w", err)
		}
	}
	return tx.Commit()
}

// Query returns the rows q selects.
func (s *SQLite) Query(ctx context.Context, q Query) ([]Row, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	text, a := querySQL(q)
	rows, err := s.db.QueryContext(ctx, text, a...)
	if err != nil {
		return nil, fmt.Errorf("couldn't query the index: %w", err)
	}
	return collect(rows, scanRow)
}

// Failures returns the actors with at least q.Threshold failed or denied
// attempts, most first.
func (s *SQLite) Failures(ctx context.Context, q FailureQuery) ([]Failure, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	text, a := failuresSQL(q)
	rows, err := s.db.QueryContext(ctx, text, a...)
	if err != nil {
		return nil, fmt.Errorf("couldn't query the index: %w", err)
	}
	return collect(rows, scanFailure)
}

// collect scans every row of a result set and closes it.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
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
