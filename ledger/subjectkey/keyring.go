// Package subjectkey keeps the keys of data subjects, under which the ledger
// seals their personal data in leaves of version 3 (see ledger/event).
//
// A subject key is 32 random bytes, created on the first event of a
// (tenant, subject) and named by a random key id of 32 lowercase hex digits,
// the subject's pseudonym. It is stored only wrapped: AES-256-GCM under a
// master key that is kept apart from the data directory and never logged,
// with associated data "ledger subject key" 0x00 tenant 0x00 subject 0x00
// kid. Destroying a subject key makes every field sealed under it unreadable
// for good (crypto-shredding); the leaves still verify.
//
// Losing the master key loses every sealed field of every event: back it up
// apart from the data directory.
package subjectkey

import (
	"context"
	"errors"
)

// ErrErased is returned by Store.Open for the key of a subject that was
// erased.
var ErrErased = errors.New("the subject's key was destroyed (erased)")

// ErrUnknownKey is returned by Store.Open for a key id the store never held.
var ErrUnknownKey = errors.New("no subject key has this id")

// Store holds subject keys. Its methods are safe for concurrent use.
type Store interface {
	// Key returns the id and key of the subject in the tenant, creating them
	// on first use. A created key is durable before Key returns, so that no
	// event is sealed under a key that a crash could lose.
	Key(ctx context.Context, tenant, subject string) (kid string, key []byte, err error)
	// Open returns the key named kid: ErrErased once destroyed,
	// ErrUnknownKey if never held.
	Open(ctx context.Context, kid string) ([]byte, error)
	// Destroy destroys the subject's current key, durably, and returns its
	// id. When the subject has none it returns the id of the key destroyed
	// last, so that an erasure cut short after Destroy can be run again to
	// completion, or "" when the subject never had a key. A later Key
	// creates a new one.
	Destroy(ctx context.Context, tenant, subject string) (kid string, err error)
}

// Wrapper encrypts subject keys for storage: a master key, or a KMS.
type Wrapper interface {
	// Wrap encrypts key, binding it to aad.
	Wrap(key, aad []byte) ([]byte, error)
	// Unwrap decrypts what Wrap returned for the same aad.
	Unwrap(wrapped, aad []byte) ([]byte, error)
}

// wrapAAD binds a wrapped key to its tenant, subject and id.
func wrapAAD(tenant, subject, kid string) []byte {
	return []byte("ledger subject key\x00" + tenant + "\x00" + subject + "\x00" + kid)
}
