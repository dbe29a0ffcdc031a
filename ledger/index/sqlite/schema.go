package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// schemaVersion is the version of the index file's schema, kept in its
// PRAGMA user_version:
//
//   - 1 (user_version 0 with the tables present): the first schema. Its
//     log_index was a BIGINT PRIMARY KEY, which SQLite keeps as a unique
//     index beside a hidden rowid, and every secondary index repeated
//     log_index after that rowid; each row also stored its leaf hash.
//   - 2: log_index is the table's rowid (INTEGER PRIMARY KEY), so the
//     table is stored in index order and every secondary index ends in it
//     without naming it; the leaf hash is computed from the leaf when a
//     row is read. About a quarter smaller (docs/benchmarks.md).
//   - 3: the columns received, submitter_type and submitter_token_id (of
//     leaf version 2; 0 and ” for a version 1 leaf) and the index on
//     received. A version 2 file gets them by ALTER TABLE, with those
//     defaults: its rows were written by a ledger that wrote version 1
//     leaves only.
//
// Open migrates a version 1 or 2 file in place and refuses a newer one.
const schemaVersion = 3

// ErrNewerSchema is returned by Open for an index file written by a newer
// version of the ledger, whose schema this one does not know.
var ErrNewerSchema = errors.New("sqlite: the index file has a newer schema than this program knows")

// entriesTable creates index_entries under the given name (a migration's
// new table, renamed after the copy). The columns of version 3 come last,
// with the defaults that ALTER TABLE gives a version 2 file.
func entriesTable(name string) string {
	return `CREATE TABLE ` + name + ` (
			log_index INTEGER PRIMARY KEY,
			leaf BLOB NOT NULL,
			id TEXT NOT NULL,
			ts INTEGER NOT NULL,
			tenant_id TEXT NOT NULL,
			event_type TEXT NOT NULL,
			action TEXT NOT NULL,
			actor_id TEXT NOT NULL,
			actor_type TEXT NOT NULL,
			resource_type TEXT NOT NULL,
			resource_id TEXT NOT NULL,
			result TEXT NOT NULL,
			received INTEGER NOT NULL DEFAULT 0,
			submitter_type TEXT NOT NULL DEFAULT '',
			submitter_token_id TEXT NOT NULL DEFAULT '')`
}

// secondary creates the secondary indexes. Each serves one question: an
// actor's activity over time, a resource's history, failed attempts over
// time, a tenant's events, and plain time windows. Each ends in ts and
// then, implicitly, the rowid log_index, so that a page in timestamp order
// is a range scan.
var secondary = []string{
	`CREATE INDEX index_entries_actor ON index_entries (actor_id, ts)`,
	`CREATE INDEX index_entries_resource ON index_entries (resource_type, resource_id, ts)`,
	`CREATE INDEX index_entries_result ON index_entries (result, ts)`,
	`CREATE INDEX index_entries_tenant ON index_entries (tenant_id, ts)`,
	`CREATE INDEX index_entries_ts ON index_entries (ts)`,
	receivedIndex,
}

// receivedIndex serves time windows and orders by receive time.
const receivedIndex = `CREATE INDEX index_entries_received ON index_entries (received)`

// fromV2 migrates a version 2 file: the columns of version 3, with their
// defaults, and their index.
var fromV2 = []string{
	`ALTER TABLE index_entries ADD COLUMN received INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE index_entries ADD COLUMN submitter_type TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE index_entries ADD COLUMN submitter_token_id TEXT NOT NULL DEFAULT ''`,
	receivedIndex,
}

// state creates index_state, whose one row holds how many entries are
// indexed.
var state = []string{
	`CREATE TABLE index_state (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL)`,
	`INSERT INTO index_state (id, size) VALUES (1, 0)`,
}

// fromV1 migrates a version 1 file: the rows are copied into the new table
// (in log_index order, the new table's own) and the old table with its
// indexes is dropped. index_state is unchanged.
var fromV1 = append([]string{entriesTable("index_entries_new"),
	`INSERT INTO index_entries_new (log_index, leaf, id, ts, tenant_id, event_type, action,
		actor_id, actor_type, resource_type, resource_id, result) SELECT log_index, leaf, id, ts, tenant_id, event_type, action,
		actor_id, actor_type, resource_type, resource_id, result FROM index_entries ORDER BY log_index`,
	`DROP TABLE index_entries`,
	`ALTER TABLE index_entries_new RENAME TO index_entries`}, secondary...)

// migrate brings the file's schema to schemaVersion in one immediate
// transaction, so that two processes opening one file migrate it once. It
// reports whether rows were copied (the old ones' pages are then free, and
// the caller may VACUUM).
func (s *Index) migrate(ctx context.Context) (copied bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return false, fmt.Errorf("couldn't read the schema version: %w", err)
	}
	var stmts []string
	switch {
	case version == schemaVersion:
		return false, nil
	case version > schemaVersion:
		return false, fmt.Errorf("%w: version %d, this program's is %d", ErrNewerSchema, version, schemaVersion)
	case version == 0:
		var n int
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'index_entries'`).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("couldn't read the schema: %w", err)
		}
		stmts = append(append([]string{entriesTable("index_entries")}, secondary...), state...)
		if copied = n == 1; copied {
			stmts = fromV1 // index_state exists and keeps its size
		}
	case version == 2:
		stmts = fromV2
	default:
		return false, fmt.Errorf("sqlite: the index file has the unknown schema version %d", version)
	}
	if err := execAll(ctx, tx, stmts); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion)); err != nil {
		return false, fmt.Errorf("couldn't set the schema version: %w", err)
	}
	return copied, tx.Commit()
}

// execAll runs statements in tx.
func execAll(ctx context.Context, tx *sql.Tx, stmts []string) error {
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}
