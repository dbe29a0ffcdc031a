// Package blob stores immutable objects by name: the tiles and bundles of a
// log in object storage, a mirror's copy of a log, an archive. A Store is a
// directory (Dir) or an S3-compatible bucket (package blob/s3); every
// implementation runs the contract suite in blob/blobtest.
//
// A name is a slash-separated relative path, such as "tile/0/000" or
// "checkpoint": non-empty segments, none of them "." or "..", no leading or
// trailing slash, no backslash, NUL or other control character (see
// CheckName). Names map to paths the same way in every Store, so a log
// written to a directory and one written to a bucket have the same layout.
package blob

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Store is a set of named objects.
//
// Contract:
//   - Put stores data under name, replacing any object there, and is
//     durable when it returns nil: a crash of either side afterwards keeps
//     the object. Readers see the old object or the new one, never a part
//     of one. With PutOptions.IfAbsent it is a conditional write: it stores
//     the object only if no object has the name, atomically with the check,
//     and otherwise fails with an error wrapping ErrExists and changes
//     nothing; of concurrent IfAbsent Puts of one name, exactly one
//     succeeds. With PutOptions.RetainUntil the object is locked (see
//     there), or the Put fails with ErrNoLock and stores nothing.
//   - Get returns the bytes of the object, or an error wrapping ErrNotExist.
//     It sees every Put that returned before it was called.
//   - List calls fn with the name of every object whose name starts with
//     prefix, in lexical (byte) order, and stops at the first error fn
//     returns, returning it. Objects put or deleted during a List may or
//     may not be listed.
//   - Delete removes the object; deleting a missing object is not an error.
//
// An error that is neither ErrNotExist nor ErrExists means the store could
// not be reached or refused the request; nothing about the object is known
// then, and the caller may retry.
type Store interface {
	Put(ctx context.Context, name string, data []byte, opts PutOptions) error
	Get(ctx context.Context, name string) ([]byte, error)
	List(ctx context.Context, prefix string, fn func(name string) error) error
	Delete(ctx context.Context, name string) error
}

// PutOptions are the options of a Put. The zero value is an unconditional
// write with no headers.
type PutOptions struct {
	// IfAbsent makes the Put a create-only conditional write (S3
	// If-None-Match: *): it fails with ErrExists if the name is taken.
	IfAbsent bool
	// ContentType and CacheControl are served with the object by a store
	// that serves HTTP (a bucket, and so a CDN in front of it). A directory
	// does not keep them: the web server in front of it decides.
	ContentType, CacheControl string
	// RetainUntil, if set, locks the object until then in compliance mode
	// (S3 Object Lock, on a bucket created with it): no one, not even the
	// bucket's owner, can delete or overwrite this version of the object
	// before that date, and it cannot be shortened. A store that cannot lock
	// (a directory) refuses such a Put with an error wrapping ErrNoLock
	// rather than write an object that is not protected.
	RetainUntil time.Time
}

// Errors callers branch on.
var (
	// ErrNotExist means no object has the name.
	ErrNotExist = errors.New("no such object")
	// ErrExists means a conditional write found the name taken.
	ErrExists = errors.New("object already exists")
	// ErrNoLock means a Put asked for a lock (PutOptions.RetainUntil) that
	// the store cannot give.
	ErrNoLock = errors.New("the store cannot lock objects")
)

// CheckName returns an error unless name is a valid object name (see the
// package comment).
func CheckName(name string) error {
	if name == "" {
		return errors.New("object name is empty")
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("object name %q has an empty, \".\" or \"..\" segment", name)
		}
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("object name %q holds a control character or a backslash", name)
		}
	}
	return nil
}
