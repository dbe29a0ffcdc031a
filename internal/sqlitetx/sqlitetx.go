// Package sqlitetx runs a function in a SQLite transaction so that a
// failed COMMIT cannot leave its connection holding the database.
//
// When COMMIT fails with SQLITE_FULL or SQLITE_IOERR (a full or failing
// disk), SQLite may keep the transaction open: the application is expected
// to roll it back. database/sql returns the connection to its pool all the
// same, where it goes on holding the write lock and the WAL, so that every
// later transaction, and every read that needs the WAL recovered, waits for
// its busy timeout for as long as the process runs: the store never
// recovers, even once the disk has room again. Do discards such a
// connection instead.
package sqlitetx

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
)

// Do runs f in a transaction of db and commits it if f returns nil. If the
// commit fails, the connection is closed rather than reused.
func Do(ctx context.Context, db *sql.DB, f func(*sql.Tx) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			discard(conn)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		discard(conn)
		return err
	}
	return nil
}

// discard closes conn's driver connection: returning driver.ErrBadConn
// from Raw takes it out of the pool.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
}
