// Package lockfile takes an exclusive advisory lock (flock) on a file, the
// way a process claims a directory for itself: one log writer, one witness
// state, one spool. The lock is released when the returned file is closed,
// or when the process dies, however it dies, so a crash never leaves a
// stale lock behind.
//
// flock locks belong to an open file description: two Locks of one path
// exclude each other within a process as between processes.
package lockfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by TryLock when another holder has the lock.
var ErrLocked = errors.New("locked by another holder")

// TryLock opens (creating with mode perm if needed) the file at path and
// takes its lock without waiting. It returns an error wrapping ErrLocked if
// another holder has it. Closing the returned file releases the lock.
func TryLock(path string, perm fs.FileMode) (*os.File, error) {
	return lock(path, perm, unix.LOCK_EX|unix.LOCK_NB)
}

// Lock is TryLock, waiting for the lock as long as another holder has it.
func Lock(path string, perm fs.FileMode) (*os.File, error) {
	return lock(path, perm, unix.LOCK_EX)
}

func lock(path string, perm fs.FileMode, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, perm)
	if err != nil {
		return nil, fmt.Errorf("couldn't open the lock file %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			err = ErrLocked
		}
		return nil, fmt.Errorf("couldn't lock %s: %w", path, err)
	}
	return f, nil
}
