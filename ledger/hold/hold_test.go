package hold

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestStore(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), FileName))
	if hs, err := s.List(); err != nil || len(hs) != 0 {
		t.Fatalf("a new store: %v %v", hs, err)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := s.Place(Hold{Scope: Scope{TenantID: "acme", ActorID: "u" + string(rune('0'+i))}, Reason: "case 42", PlacedBy: "token:a"}, now); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	hs, err := s.List()
	if err != nil || len(hs) != 10 {
		t.Fatalf("after 10 concurrent placements: %d holds, %v", len(hs), err)
	}
	h := hs[4]
	if len(h.ID) != 16 || !h.Placed.Equal(now) || !h.Active() {
		t.Fatalf("hold %+v", h)
	}
	later := now.Add(time.Hour)
	r, err := s.Release(h.ID, "token:b", later)
	if err != nil || r.Active() || r.ReleasedBy != "token:b" || !r.Released.Equal(later) {
		t.Fatalf("release: %+v %v", r, err)
	}
	again, err := s.Release(h.ID, "token:c", later.Add(time.Hour))
	if err != nil || again.ReleasedBy != "token:b" || !again.Released.Equal(later) {
		t.Fatalf("a second release changed the hold: %+v %v", again, err)
	}
	if _, err := s.Release("0000000000000000", "token:b", later); !errors.Is(err, ErrNotFound) {
		t.Fatalf("releasing an unknown hold: %v", err)
	}
}

func TestPlaceRefuses(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), FileName))
	for _, c := range []struct {
		h    Hold
		want string
	}{
		{Hold{Reason: "x"}, "at least one"},
		{Hold{Scope: Scope{ResourceID: "r1"}, Reason: "x"}, "needs resource_type"},
		{Hold{Scope: Scope{TenantID: "t"}}, "reason"},
		{Hold{Scope: Scope{TenantID: strings.Repeat("t", 2000)}, Reason: "x"}, "tenant_id"},
		{Hold{Scope: Scope{TenantID: "t"}, Reason: "\xff"}, "reason"},
	} {
		if _, err := s.Place(c.h, now); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Place(%+v): %v, want ErrInvalid naming %q", c.h, err, c.want)
		}
	}
	if hs, _ := s.List(); len(hs) != 0 {
		t.Fatalf("refused holds were stored: %v", hs)
	}
}

// FuzzParse: any hold file is parsed or refused, never a panic, and every
// hold of a parsed file is valid with a unique ID.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"holds":[{"id":"0123456789abcdef","tenant_id":"acme","reason":"case 42","placed_by":"token:a","placed":"2026-06-01T12:00:00Z"}]}`))
	f.Add([]byte(`{"holds":[]}`))
	f.Add([]byte(`{"holds":[{"id":"0123456789abcdef","resource_id":"r","reason":"x"}]}`))
	f.Add([]byte(`{"holds":null} []`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := Parse(b)
		if err != nil {
			return
		}
		ids := map[string]bool{}
		for _, h := range hs {
			if err := h.Validate(); err != nil || ids[h.ID] {
				t.Fatalf("parsed an invalid or duplicate hold %+v: %v", h, err)
			}
			ids[h.ID] = true
		}
	})
}

func TestBlocking(t *testing.T) {

	s := Open(filepath.Join(t.TempDir(), FileName))
	tenant, err := s.Place(Hold{Scope: Scope{TenantID: "acme"}, Reason: "case 1", PlacedBy: "t"}, now)
	if err != nil {
		t.Fatal(err)
	}
	actor, _ := s.Place(Hold{Scope: Scope{TenantID: "acme", ActorID: "u-7"}, Reason: "case 2", PlacedBy: "t"}, now)
	chart, _ := s.Place(Hold{Scope: Scope{ResourceType: "chart", ResourceID: "c-9"}, Reason: "case 3", PlacedBy: "t"}, now)
	released, _ := s.Place(Hold{Scope: Scope{ActorID: "u-8"}, Reason: "case 4", PlacedBy: "t"}, now)
	if _, err := s.Release(released.ID, "t", now); err != nil {
		t.Fatal(err)
	}
	holds, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	ids := func(hs []Hold) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.ID)
		}
		return out
	}
	for _, c := range []struct {
		ev   Scope
		want []string
	}{
		{Scope{TenantID: "acme", ActorID: "u-1"}, []string{tenant.ID}},
		{Scope{TenantID: "acme", ActorID: "u-7"}, []string{tenant.ID, actor.ID}},
		{Scope{TenantID: "other", ActorID: "u-7"}, nil},
		{Scope{TenantID: "other", ResourceType: "chart", ResourceID: "c-9"}, []string{chart.ID}},
		{Scope{TenantID: "other", ResourceType: "chart", ResourceID: "c-1"}, nil},
		{Scope{TenantID: "other", ActorID: "u-8"}, nil}, // released
	} {
		if got := ids(Blocking(holds, c.ev)); !slices.Equal(got, c.want) {
			t.Errorf("Blocking(%+v) = %v, want %v", c.ev, got, c.want)
		}
	}
}
