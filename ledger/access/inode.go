package access

import (
	"io/fs"
	"syscall"
)

// inodeOf returns the file's inode number, so that a token file replaced
// by rename within one modification-time tick is still seen as changed.
func inodeOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
