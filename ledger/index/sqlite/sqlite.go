// Package sqlite is the embedded backend of the query index: one SQLite
// database file (pure Go, modernc.org/sqlite, no cgo), in WAL mode so that
// queries never wait for the follower's writes. `ledger serve --data DIR`
// keeps it in DIR/index.sqlite, beside the posix log.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"github.com/ledger-dev/ledger/internal/durable"
	"github.com/ledger-dev/ledger/internal/sqlitetx"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/ledger/index/internal/sqlindex"
)

// Config configures an Index.
type Config struct {
	// Path is the database file, created with its tables if it does not
	// exist. Required.
	Path string
}

// Index is the SQLite backend. It implements index.Store. Several processes
// may open the same file (a `ledger index verify` beside a running server);
// writers take turns.
type Index struct {
	db *sql.DB
}

// maxInsertRows bounds the rows of one INSERT statement (12 parameters
// each, well under SQLite's limit of 32766 parameters).
const maxInsertRows = 500

// Open opens (creating if needed) the index database at cfg.Path. A file of
// an older schema is migrated first (see schemaVersion), one of a newer
// schema is refused with ErrNewerSchema.
func Open(ctx context.Context, cfg Config) (*Index, error) {
	if cfg.Path == "" {
		return nil, errors.New("sqlite: Config.Path is required")
	}
	// Durability: synchronous=NORMAL in WAL mode survives a process crash
	// but may lose the last transactions on power loss, which is fine for
	// a projection the follower refills from the log. Transactions start
	// IMMEDIATE so that Append's read of the size and its writes are one
	// atomic step across processes. temp_store=MEMORY keeps the statement
	// journal of each multi-row INSERT in memory: in a temporary file, its
	// writes were an eighth of the follower's CPU. cache_size gives each
	// connection up to 16 MiB of page cache instead of 2 MiB: the
	// follower's inserts land at random places of the secondary indexes,
	// and with the small cache each re-read its pages from the file (a
	// fifth less CPU per entry at 1M entries). The cache grows only as
	// pages are read, to the same bound at any index size.
	q := url.Values{"_txlock": {"immediate"}, "_pragma": {"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "temp_store(MEMORY)", "cache_size(-16384)"}}
	// The index holds the events' contents: mode 0600.
	if err := durable.CreatePrivate(cfg.Path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+cfg.Path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("couldn't open index %s: %w", cfg.Path, err)
	}
	s := &Index{db: db}
	copied, err := s.migrate(ctx)
	if err == nil && copied {
		// Give the old table's pages back to the file system.
		_, err = db.ExecContext(ctx, `VACUUM`)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("couldn't create or migrate the index schema in %s: %w", cfg.Path, err)
	}
	return s, nil
}

// inTx runs statements in one transaction.
func (s *Index) inTx(ctx context.Context, stmts ...string) error {
	return sqlitetx.Do(ctx, s.db, func(tx *sql.Tx) error { return execAll(ctx, tx, stmts) })
}

// Close closes the database.
func (s *Index) Close() error { return s.db.Close() }

// DB returns the database handle, for tests that change rows behind the
// index's back.
func (s *Index) DB() *sql.DB { return s.db }

// Size returns how many entries are indexed.
func (s *Index) Size(ctx context.Context) (uint64, error) {
	return sqlindex.ReadSize(s.db.QueryRowContext(ctx, sqlindex.SizeSQL))
}

// Append adds rows for entries from, from+1, ... if the size is from.
func (s *Index) Append(ctx context.Context, from uint64, rows []index.Row) error {
	var committing bool
	err := sqlitetx.Do(ctx, s.db, func(tx *sql.Tx) error {
		size, err := sqlindex.ReadSize(tx.QueryRowContext(ctx, sqlindex.SizeSQL))
		if err != nil {
			return err
		}
		if err := sqlindex.CheckAppend(from, size, rows); err != nil {
			return err
		}
		if err := insertRows(ctx, tx, rows); err != nil {
			return fmt.Errorf("couldn't insert index rows: %w", err)
		}
		if _, err := tx.ExecContext(ctx, sqlindex.SetSizeSQL, int64(from)+int64(len(rows))); err != nil {
			return fmt.Errorf("couldn't update the index size: %w", err)
		}
		committing = true
		return nil
	})
	if err != nil && committing {
		return fmt.Errorf("couldn't commit index rows: %w", err)
	}
	return err
}

// insertRows inserts rows in statements of maxInsertRows rows; the
// statement for a full chunk is prepared once.
func insertRows(ctx context.Context, tx *sql.Tx, rows []index.Row) error {
	var full *sql.Stmt
	vals := make([]any, 0, len(sqlindex.Columns)*min(len(rows), maxInsertRows))
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), maxInsertRows)]
		rows = rows[len(chunk):]
		vals = vals[:0]
		for i := range chunk {
			vals = append(vals, sqlindex.Values(&chunk[i])...)
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

// insertSQL returns a multi-row INSERT of n rows with anonymous ?
// placeholders (SQLite looks up each $N by a linear scan of the names).
func insertSQL(n int) string {
	row := "(" + strings.Repeat(",?", len(sqlindex.Columns))[1:] + ")"
	return "INSERT INTO index_entries (" + strings.Join(sqlindex.Columns, ", ") + ") VALUES " +
		strings.Repeat(","+row, n)[1:]
}

// Reset deletes every row.
func (s *Index) Reset(ctx context.Context) error {
	if err := s.inTx(ctx, `DELETE FROM index_entries`, `UPDATE index_state SET size = 0 WHERE id = 1`); err != nil {
		return fmt.Errorf("couldn't reset the index: %w", err)
	}
	return nil
}

// Prune deletes the rows below minimum (index.Store), in transactions of
// sqlindex.PruneChunk rows.
func (s *Index) Prune(ctx context.Context, minimum uint64) error {
	err := sqlindex.PruneChunks(ctx, minimum, func(ctx context.Context) (int64, bool, error) {
		var lo sql.NullInt64
		err := s.db.QueryRowContext(ctx, sqlindex.FirstRowSQL).Scan(&lo)
		return lo.Int64, lo.Valid, err
	}, func(ctx context.Context, stmt string, arg int64) error {
		return sqlitetx.Do(ctx, s.db, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, stmt, arg)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("couldn't drop the index rows below %d: %w", minimum, err)
	}
	// A prune of many rows writes most of the database's pages to the
	// WAL, which SQLite reuses but never shrinks: give that space back.
	// Best effort: a reader holding a snapshot keeps it for now.
	s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return nil
}

// Query returns the rows q selects.
func (s *Index) Query(ctx context.Context, q index.Query) ([]index.Row, error) {
	return sqlindex.Query(ctx, s.query, q)
}

// Failures returns the actors with at least q.Threshold failed or denied
// attempts, most first.
func (s *Index) Failures(ctx context.Context, q index.FailureQuery) ([]index.Failure, error) {
	return sqlindex.Failures(ctx, s.query, q)
}

// query is the sqlindex.QueryFunc over the database.
func (s *Index) query(ctx context.Context, text string, args ...any) (sqlindex.Rows, error) {
	rows, err := s.db.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// sqlRows is a *sql.Rows as sqlindex.Rows. The error of Close, which only
// repeats one of Err's, is dropped.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }
