package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// TestArchiveEndpoint checks POST /v1/admin/archive without an archive
// (404) and with a run that fails (502, with the run's error).
func TestArchiveEndpoint(t *testing.T) {
	s := newAccessServer(t)
	if resp, b := s.do(t, adm, "POST", "/v1/admin/archive", "", ""); resp.StatusCode != 404 || !strings.Contains(string(b), "no archive is configured") {
		t.Fatalf("without an archive: %d %s", resp.StatusCode, b)
	}

	arch := &dirArchiver{}
	s = newAccessServer(t, arch.tweak(t))
	policy, err := tiles.NewLogPolicy(s.vkey)
	if err != nil {
		t.Fatal(err)
	}
	arch.cfg.Policy = policy
	// A directory cannot lock: the run fails before it writes anything.
	arch.cfg.RetainUntil = func(now time.Time) time.Time { return now.Add(time.Hour) }
	if resp, b := s.do(t, adm, "POST", "/v1/admin/archive", "", ""); resp.StatusCode != 502 || !strings.Contains(string(b), "cannot lock objects") {
		t.Fatalf("a failing run: %d %s", resp.StatusCode, b)
	}
}
