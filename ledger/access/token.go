// Package access is the ledger's access control: API tokens, the roles
// they carry, and the keyring the HTTP API checks bearer tokens against.
//
// A token is a random secret shown once when it is created; the ledger
// stores only its SHA-256, so a leaked token file or configuration does not
// leak credentials. Roles separate duties (docs/access.md):
//
//	writer   append events (into its tenant, if it has one)
//	reader   query the events of its tenant
//	auditor  query every tenant, export, read entry bundles
//	admin    manage tokens and legal holds, erase; no query rights of its own
//	privacy  erase data subjects and read the legal holds that refuse it;
//	         nothing else
//
// Checkpoints, hash tiles and health are public.
package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Role is what a token may do.
type Role string

// The roles.
const (
	Writer  Role = "writer"
	Reader  Role = "reader"
	Auditor Role = "auditor"
	Admin   Role = "admin"
	// Privacy erases data subjects (their sealed members) and reads the
	// legal holds that may refuse it, and nothing else: a data protection
	// officer's token, apart from the admin's.
	Privacy Role = "privacy"
)

// Roles lists every role.
var Roles = []Role{Writer, Reader, Auditor, Admin, Privacy}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	if r := Role(s); slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: want writer, reader, auditor, admin or privacy", s)
}

// Errors of token checks, which callers branch on.
var (
	// ErrUnknownToken is a bearer token that matches no token.
	ErrUnknownToken = errors.New("unknown token")
	// ErrExpired is a token past its expiry.
	ErrExpired = errors.New("token expired")
	// ErrRevoked is a token that was revoked.
	ErrRevoked = errors.New("token revoked")
)

// Prefix starts every token secret, so that secret scanners and people can
// tell a ledger token when they see one.
const Prefix = "ldg_"

// Token is a token as the ledger stores it: everything but the secret.
type Token struct {
	// ID names the token in logs and audit events: the first 16 hex digits
	// of the secret's SHA-256. It is not a credential.
	ID string `json:"id" yaml:"id"`
	// Name is an optional note on who holds the token.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Role is what the token may do.
	Role Role `json:"role" yaml:"role"`
	// Tenant, if set, confines a writer's events and a reader's queries to
	// one tenant. Readers always have one; auditors, admins and privacy
	// tokens never do.
	Tenant string `json:"tenant,omitempty" yaml:"tenant,omitempty"`
	// SHA256 is the hex SHA-256 of the secret.
	SHA256 string `json:"sha256" yaml:"sha256"`
	// Created is when the token was made.
	Created time.Time `json:"created,omitzero" yaml:"created,omitempty"`
	// Expires, if set, is when the token stops working.
	Expires time.Time `json:"expires,omitzero" yaml:"expires,omitempty"`
	// Revoked, if set, is when the token was revoked.
	Revoked time.Time `json:"revoked,omitzero" yaml:"revoked,omitempty"`
	// RateLimit, if set, overrides the ledger's default rate limit for this
	// token.
	RateLimit *RateLimit `json:"rate_limit,omitempty" yaml:"rate_limit,omitempty"`
}

// RateLimit is a token bucket: Burst requests at once, refilled at
// PerSecond. A zero PerSecond is no limit.
type RateLimit struct {
	PerSecond float64 `json:"per_second" yaml:"per_second"`
	Burst     int     `json:"burst" yaml:"burst"`
}

// Validate checks a rate limit.
func (l *RateLimit) Validate() error {
	if l.PerSecond < 0 || l.Burst < 0 {
		return errors.New("rate limit: per_second and burst must not be negative")
	}
	if l.PerSecond > 0 && l.Burst == 0 {
		return errors.New("rate limit: burst must be at least 1 when per_second is set")
	}
	return nil
}

var (
	hexHash   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	tenantRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	maxNameLn = 256
)

// Validate checks a stored token: a known role, a hash, an ID that is the
// hash's prefix, and a tenant exactly where the role allows one.
func (t *Token) Validate() error {
	if _, err := ParseRole(string(t.Role)); err != nil {
		return fmt.Errorf("token %s: %w", t.ID, err)
	}
	if !hexHash.MatchString(t.SHA256) {
		return fmt.Errorf("token %s: sha256 must be 64 lowercase hex digits", t.ID)
	}
	if t.ID != t.SHA256[:16] {
		return fmt.Errorf("token %s: id must be the first 16 hex digits of sha256 (%s)", t.ID, t.SHA256[:16])
	}
	if len(t.Name) > maxNameLn {
		return fmt.Errorf("token %s: name is longer than %d bytes", t.ID, maxNameLn)
	}
	if t.RateLimit != nil {
		if err := t.RateLimit.Validate(); err != nil {
			return fmt.Errorf("token %s: %w", t.ID, err)
		}
	}
	return checkTenant(t.Role, t.Tenant)
}

// checkTenant enforces which roles carry a tenant.
func checkTenant(role Role, tenant string) error {
	switch {
	case tenant != "" && !tenantRE.MatchString(tenant):
		return fmt.Errorf("tenant %q must be 1-128 letters, digits or ._:- (starting with a letter or digit)", tenant)
	case role == Reader && tenant == "":
		return errors.New("a reader token needs a tenant: readers query one tenant (an auditor queries all)")
	case (role == Auditor || role == Admin || role == Privacy) && tenant != "":
		return fmt.Errorf("an %s token has no tenant: it is not confined to one", role)
	}
	return nil
}

// Generate makes a new token for role (and tenant), returning its secret,
// which is shown once and never stored, and the Token to store. A zero ttl
// never expires.
func Generate(role Role, tenant, name string, ttl time.Duration, now time.Time) (string, Token, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return "", Token{}, err
	}
	if err := checkTenant(role, tenant); err != nil {
		return "", Token{}, err
	}
	if ttl < 0 {
		return "", Token{}, errors.New("a token's lifetime must not be negative")
	}
	if len(name) > maxNameLn {
		return "", Token{}, fmt.Errorf("name is longer than %d bytes", maxNameLn)
	}
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	secret := Prefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := HashSecret(secret)
	t := Token{ID: h[:16], Name: name, Role: role, Tenant: tenant, SHA256: h, Created: now.UTC().Truncate(time.Second)}
	if ttl > 0 {
		t.Expires = now.Add(ttl).UTC().Truncate(time.Second)
	}
	return secret, t, nil
}

// HashSecret returns the hex SHA-256 of a token secret, the form stored.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Usable reports why t cannot be used at now, or nil.
func (t *Token) Usable(now time.Time) error {
	switch {
	case !t.Revoked.IsZero():
		return fmt.Errorf("%w: %s was revoked at %s", ErrRevoked, t.ID, t.Revoked.Format(time.RFC3339))
	case !t.Expires.IsZero() && !now.Before(t.Expires):
		return fmt.Errorf("%w: %s expired at %s", ErrExpired, t.ID, t.Expires.Format(time.RFC3339))
	}
	return nil
}

// Set is an immutable set of tokens, looked up by the hash of a secret.
type Set struct {
	byHash map[string]Token
	byID   map[string]Token
}

// NewSet indexes tokens, refusing invalid ones and duplicate IDs.
func NewSet(tokens ...Token) (*Set, error) {
	s := &Set{byHash: make(map[string]Token, len(tokens)), byID: make(map[string]Token, len(tokens))}
	for _, t := range tokens {
		if err := t.Validate(); err != nil {
			return nil, err
		}
		if _, dup := s.byID[t.ID]; dup {
			return nil, fmt.Errorf("token %s is defined twice", t.ID)
		}
		s.byHash[t.SHA256], s.byID[t.ID] = t, t
	}
	return s, nil
}

// Lookup returns the usable token whose secret this is.
func (s *Set) Lookup(secret string, now time.Time) (Token, error) {
	if !strings.HasPrefix(secret, Prefix) {
		return Token{}, fmt.Errorf("%w: a ledger token starts with %q", ErrUnknownToken, Prefix)
	}
	t, ok := s.byHash[HashSecret(secret)]
	if !ok {
		return Token{}, ErrUnknownToken
	}
	if err := t.Usable(now); err != nil {
		return Token{}, err
	}
	return t, nil
}

// Tokens returns every token, sorted by creation then ID.
func (s *Set) Tokens() []Token {
	out := make([]Token, 0, len(s.byID))
	for _, t := range s.byID {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Token) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Get returns the token with this ID.
func (s *Set) Get(id string) (Token, bool) {
	t, ok := s.byID[id]
	return t, ok
}
