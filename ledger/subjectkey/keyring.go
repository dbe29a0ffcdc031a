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
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ErrErased is returned by Store.Open for the key of a subject that was
// erased.
var ErrErased = errors.New("the subject's key was destroyed (erased)")

// ErrUnknownKey is returned by Store.Open for a key id the store never held.
var ErrUnknownKey = errors.New("no subject key has this id")

// Store holds subject keys. Its methods are safe for concurrent use.
type Store interface {
	// Key returns the id and key of the subject in the tenant, creating them
	// on first use, for sealing an event stamped at: the key's Newest is
	// made at least at. A created key, and its Newest, are durable before
	// Key returns, so that no event is sealed under a key that a crash
	// could lose, nor under one whose Newest a crash set back.
	Key(ctx context.Context, tenant, subject string, at time.Time) (kid string, key []byte, err error)
	// Open returns the key named kid: ErrErased once destroyed,
	// ErrUnknownKey if never held.
	Open(ctx context.Context, kid string) ([]byte, error)
	// Destroy destroys the subject's current key durably, recording the
	// erasure as pending (its event not yet logged), and returns it. When
	// the subject has none it returns the erasure of the key destroyed
	// last, so that an erasure cut short after Destroy can be run again to
	// completion, or the zero Erasure when the subject never had a key.
	// With a non-zero idleBefore, a key whose Newest is not before it (an
	// event was sealed under it since the caller found it idle) is kept,
	// and the zero Erasure returned. A later Key creates a new key.
	Destroy(ctx context.Context, tenant, subject string, why Why, idleBefore time.Time) (Erasure, error)
	// Logged records that the event of the erasure of key kid is in the
	// log: it is no longer pending.
	Logged(ctx context.Context, kid string) error
	// Pending lists the erasures whose event is not yet logged, oldest
	// first: a crash came between the key's destruction and its event.
	Pending(ctx context.Context) ([]Erasure, error)
	// Idle lists the keys that exist and whose Newest is before before:
	// no event stamped at or after before is sealed under them. A key
	// whose Newest is the zero time (Key was given none) is never idle.
	Idle(ctx context.Context, before time.Time) ([]Info, error)
}

// Why is what an erasure records of its cause, so that a pending one is
// logged as it would have been.
type Why struct {
	// Reason is why the key was destroyed, e.g. "request" or "retention
	// max".
	Reason string `json:"reason"`
	// By names who asked, e.g. "token:<ID>"; empty for the ledger itself.
	By string `json:"by,omitempty"`
}

// Erasure is a destroyed key: whose it was and why, never the key.
type Erasure struct {
	// Tenant and Subject are whose key it was.
	Tenant, Subject string
	// KID is the destroyed key's id; empty in the zero Erasure.
	KID string
	// Why is what Destroy was given.
	Why Why
	// At is when the key was destroyed.
	At time.Time
	// Pending is true until Logged: the erasure's event may not be in the
	// log.
	Pending bool
}

// Info describes a key that exists, never the key itself.
type Info struct {
	// Tenant and Subject are whose key it is.
	Tenant, Subject string
	// KID is the key's id.
	KID string
	// Newest is at least the timestamp of every event sealed under the key:
	// the latest that Key was asked for, rounded up to the store's
	// Resolution, so that a store writes at most once per Resolution and
	// subject however many events the subject has.
	Newest time.Time
}

// DefaultResolution is a store's Resolution unless set otherwise.
const DefaultResolution = time.Hour

// NewestFor returns the Newest a key must have for an event stamped at:
// at rounded up to a multiple of res (res <= 0: DefaultResolution), in UTC
// and to the microsecond, which every store keeps exactly.
func NewestFor(at time.Time, res time.Duration) time.Time {
	if res <= 0 {
		res = DefaultResolution
	}
	t := at.UTC()
	if r := t.Truncate(res); r.Before(t) {
		t = r.Add(res)
	}
	return t.Truncate(time.Microsecond)
}

// Wrapper encrypts subject keys for storage: a master key, or a KMS.
type Wrapper interface {
	// Wrap encrypts key, binding it to aad.
	Wrap(key, aad []byte) ([]byte, error)
	// Unwrap decrypts what Wrap returned for the same aad.
	Unwrap(wrapped, aad []byte) ([]byte, error)
}

// Make returns a new key of the subject in the tenant: its random id, the
// key and the key wrapped by w, bound to tenant, subject and id.
func Make(w Wrapper, tenant, subject string) (kid string, key, wrapped []byte, err error) {
	kid, key = hex.EncodeToString(randomBytes(16)), randomBytes(32)
	wrapped, err = w.Wrap(key, wrapAAD(tenant, subject, kid))
	if err != nil {
		return "", nil, nil, fmt.Errorf("couldn't wrap a subject key: %w", err)
	}
	return kid, key, wrapped, nil
}

// Unwrap returns the key that Make wrapped for the tenant, subject and id.
func Unwrap(w Wrapper, tenant, subject, kid string, wrapped []byte) ([]byte, error) {
	return w.Unwrap(wrapped, wrapAAD(tenant, subject, kid))
}

// wrapAAD binds a wrapped key to its tenant, subject and id.
func wrapAAD(tenant, subject, kid string) []byte {
	return []byte("ledger subject key\x00" + tenant + "\x00" + subject + "\x00" + kid)
}

// KeyFunc returns s.Key under ctx, as event.SealConfig.Key takes it.
func KeyFunc(ctx context.Context, s Store) func(tenant, subject string, at time.Time) (string, []byte, error) {
	return func(tenant, subject string, at time.Time) (string, []byte, error) {
		return s.Key(ctx, tenant, subject, at)
	}
}
