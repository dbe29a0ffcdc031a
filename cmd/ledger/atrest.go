package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/keyindex"
)

// warnLooseModes logs a warning for each of the data directory and its
// private files (the log key, the token file, the holds, the SQLite
// indexes; docs/access.md#at-rest) that other users of the machine may
// read or write. New ones are created private; these are older ones, or
// ones an operator loosened.
func warnLooseModes(log *slog.Logger, data, keyFile, tokenFile string) {
	paths := []string{data, cmp.Or(keyFile, filepath.Join(data, "log.key")), tokenFile,
		filepath.Join(data, hold.FileName), filepath.Join(data, retentionStateFile), filepath.Join(data, "index.sqlite"), filepath.Join(data, keyindex.FileName)}
	for _, p := range looseModes(paths) {
		log.Warn("readable by other users of this machine: chmod it to 0600 (a directory 0700), see docs/access.md#at-rest", "path", p.path, "mode", fmt.Sprintf("%04o", p.mode))
	}
}

type looseMode struct {
	path string
	mode os.FileMode
}

// looseModes returns those of paths that exist and have permission bits
// for the group or others.
func looseModes(paths []string) []looseMode {
	var loose []looseMode
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
			loose = append(loose, looseMode{p, st.Mode().Perm()})
		}
	}
	return loose
}
