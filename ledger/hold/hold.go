// Package hold keeps the ledger's legal holds: an admin's statement that
// the events matching a scope (a tenant, an actor, a resource) must be
// preserved, for litigation or an investigation, whatever a retention
// policy or an erasure request would otherwise do to them.
//
// Holds are kept in a small JSON file (DIR/holds.json) and every placement
// and release is also appended to the log itself, by the admin API, so the
// file is a convenience: the log is the record. What destroys data must
// skip what an active hold in Store.List covers: an erasure
// (POST /v1/admin/erasures) is refused while one may cover its subject.
package hold

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/ledger-dev/ledger/internal/jsonfile"
)

// FileName is the hold file's name in a ledger's data directory.
const FileName = "holds.json"

// Errors callers branch on.
var (
	// ErrInvalid is a hold that cannot be placed as given.
	ErrInvalid = errors.New("invalid legal hold")
	// ErrNotFound is a release of an ID that names no hold.
	ErrNotFound = errors.New("no such legal hold")
)

// Scope says which events a hold preserves: those matching every field
// that is set. At least one is.
type Scope struct {
	TenantID     string `json:"tenant_id,omitempty"`
	ActorID      string `json:"actor_id,omitempty"`
	ResourceType string `json:"resource_type,omitempty"`
	ResourceID   string `json:"resource_id,omitempty"`
}

// Hold is one legal hold.
type Hold struct {
	// ID is 16 random hex digits.
	ID string `json:"id"`
	Scope
	// Reason says why, e.g. a case or ticket number. Required.
	Reason string `json:"reason"`
	// PlacedBy and ReleasedBy name who did it (a token ID).
	PlacedBy   string    `json:"placed_by"`
	Placed     time.Time `json:"placed"`
	ReleasedBy string    `json:"released_by,omitempty"`
	// Released is zero while the hold is active.
	Released time.Time `json:"released,omitzero"`
}

// maxField bounds each text field of a hold.
const maxField = 1024

// Validate checks a hold as placed.
func (h *Hold) Validate() error {
	s := h.Scope
	if s == (Scope{}) {
		return fmt.Errorf("%w: give at least one of tenant_id, actor_id, resource_type, resource_id", ErrInvalid)
	}
	if s.ResourceID != "" && s.ResourceType == "" {
		return fmt.Errorf("%w: resource_id needs resource_type", ErrInvalid)
	}
	if h.Reason == "" {
		return fmt.Errorf("%w: reason is required", ErrInvalid)
	}
	for name, v := range map[string]string{"tenant_id": s.TenantID, "actor_id": s.ActorID, "resource_type": s.ResourceType,
		"resource_id": s.ResourceID, "reason": h.Reason, "placed_by": h.PlacedBy, "released_by": h.ReleasedBy} {
		if len(v) > maxField || !utf8.ValidString(v) {
			return fmt.Errorf("%w: %s must be valid UTF-8 of at most %d bytes", ErrInvalid, name, maxField)
		}
	}
	return nil
}

// Matches reports whether the event whose tenant, actor and resource
// are ev is in scope s: every field s sets equals ev's.
func (s Scope) Matches(ev Scope) bool {
	for _, f := range [][2]string{{s.TenantID, ev.TenantID}, {s.ActorID, ev.ActorID}, {s.ResourceType, ev.ResourceType}, {s.ResourceID, ev.ResourceID}} {
		if f[0] != "" && f[0] != f[1] {
			return false
		}
	}
	return true
}

// Blocking returns the active holds of holds whose scope an event with
// tenant, actor and resource ev is in: nothing may delete, archive away or
// erase the event while it returns any. Released holds block nothing.
func Blocking(holds []Hold, ev Scope) []Hold {
	var by []Hold
	for _, h := range holds {
		if h.Active() && h.Matches(ev) {
			by = append(by, h)
		}
	}
	return by
}

// Active reports whether the hold is in force.
func (h *Hold) Active() bool { return h.Released.IsZero() }

// file is the JSON document of a hold file.
type file struct {
	Holds []Hold `json:"holds"`
}

// Parse decodes a hold file, refusing unknown members, invalid holds and
// duplicate IDs.
func Parse(b []byte) ([]Hold, error) {
	var f file
	if err := jsonfile.Decode(b, &f); err != nil {
		return nil, fmt.Errorf("hold file: %w", err)
	}
	seen := map[string]bool{}
	for _, h := range f.Holds {
		if len(h.ID) != 16 || seen[h.ID] {
			return nil, fmt.Errorf("hold file: hold %q: the id must be 16 hex digits and unique", h.ID)
		}
		seen[h.ID] = true
		if err := h.Validate(); err != nil {
			return nil, fmt.Errorf("hold file: hold %s: %w", h.ID, err)
		}
	}
	return f.Holds, nil
}

// Store is the hold file of a ledger. It is safe for concurrent use, also
// by several processes.
type Store struct{ path string }

// Open returns the store of the hold file at path; the file is created by
// the first hold placed.
func Open(path string) *Store { return &Store{path: path} }

// List returns every hold, active and released, oldest first.
func (s *Store) List() ([]Hold, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Place records h (its Scope, Reason and PlacedBy) as placed at now, and
// returns it with its ID.
func (s *Store) Place(h Hold, now time.Time) (Hold, error) {
	var id [8]byte
	rand.Read(id[:]) // never fails (crypto/rand)
	h.ID, h.Placed, h.Released, h.ReleasedBy = hex.EncodeToString(id[:]), now.UTC().Truncate(time.Second), time.Time{}, ""
	if err := h.Validate(); err != nil {
		return Hold{}, err
	}
	return h, s.update(func(hs []Hold) ([]Hold, error) { return append(hs, h), nil })
}

// Release marks the hold id released at now by by. Releasing a released
// hold changes nothing and returns it as it was.
func (s *Store) Release(id, by string, now time.Time) (Hold, error) {
	var released Hold
	err := s.update(func(hs []Hold) ([]Hold, error) {
		i := slices.IndexFunc(hs, func(h Hold) bool { return h.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if hs[i].Active() {
			hs[i].Released, hs[i].ReleasedBy = now.UTC().Truncate(time.Second), by
		}
		released = hs[i]
		return hs, nil
	})
	return released, err
}

func (s *Store) update(change func([]Hold) ([]Hold, error)) error {
	return jsonfile.Update(s.path, func(b []byte) ([]byte, error) {
		var old []Hold
		if b != nil {
			var err error
			if old, err = Parse(b); err != nil {
				return nil, fmt.Errorf("%s: %w", s.path, err)
			}
		}
		hs, err := change(old)
		if err != nil {
			return nil, err
		}
		return jsonfile.Marshal(file{Holds: hs})
	})
}
