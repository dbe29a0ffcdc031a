// Command addlog adds a log to a litewitness database, as torchwood's
// witnessctl add-log and add-key do (witnessctl itself cannot be built here:
// it needs sigsum-go, which the module proxy does not serve). Run it after
// litewitness has created its tables.
//
//	addlog DB ORIGIN VKEY
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: addlog DB ORIGIN VKEY")
		os.Exit(2)
	}
	if err := addLog(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintf(os.Stderr, "addlog: %v\n", err)
		os.Exit(1)
	}
}

func addLog(db, origin, vkey string) error {
	conn, err := sqlite.OpenConn(db, 0)
	if err != nil {
		return err
	}
	defer conn.Close()
	empty := sha256.Sum256(nil) // the root of the empty tree: the log starts at size 0
	if err := sqlitex.Execute(conn, "INSERT INTO log (origin, tree_size, tree_hash) VALUES (?, 0, ?)",
		&sqlitex.ExecOptions{Args: []any{origin, base64.StdEncoding.EncodeToString(empty[:])}}); err != nil {
		return fmt.Errorf("couldn't add the log: %w", err)
	}
	if err := sqlitex.Execute(conn, "INSERT INTO key (origin, key) VALUES (?, ?)",
		&sqlitex.ExecOptions{Args: []any{origin, vkey}}); err != nil {
		return fmt.Errorf("couldn't add the key: %w", err)
	}
	return nil
}
