package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPruneDryRunE2E: with a policy of a one-second min for every event
// and a year for tenant c, and a hold on one actor, `ledger prune
// --dry-run` says the left edge stops at the held actor's event and why
// each later entry stays (per rule, per hold, behind the edge); once the
// hold is released, the edge moves on to tenant c's event. Nothing is
// removed: the log still answers every entry, and a log of fewer than 256
// entries that may go prunes nothing (whole bundles are pruned).
func TestPruneDryRunE2E(t *testing.T) {
	p := newPruneLog(t, "retention:\n  rules:\n    - {min: 1s}\n    - {tenant: c, min: 1y}\n")
	ledgerBin, data, confFile, admin := p.ledgerBin, p.data, p.conf, p.admin
	dryRun := func() string {
		t.Helper()
		out, err := exec.Command(ledgerBin, "prune", "--dry-run", "--data", data, "--config", confFile).CombinedOutput()
		if err != nil {
			t.Fatalf("ledger prune --dry-run: %v\n%s", err, out)
		}
		return string(out)
	}
	expect := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("ledger prune --dry-run does not say %q:\n%s", w, out)
			}
		}
	}

	// Entry 0 is the policy's retention.policy_changed event; 1-6 these;
	// 7 the hold's placement.
	s := p.serve(t, "--init")
	var events []string
	for i, who := range [][2]string{{"a", "u-1"}, {"a", "u-1"}, {"b", "u-held"}, {"a", "u-2"}, {"c", "u-3"}, {"a", "u-1"}} {
		events = append(events, fmt.Sprintf(`{"tenant_id":%q,"event_type":"doc.read","action":"read","actor":{"id":%q,"type":"user"},"resource":{"type":"doc","id":"d-%d"},"result":"success"}`, who[0], who[1], i))
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", p.writer, "["+strings.Join(events, ",")+"]"); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/holds", admin, `{"actor_id":"u-held","reason":"case 41"}`)
	var h struct{ ID string }
	if code != 201 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("place hold: %d %s", code, b)
	}
	time.Sleep(1500 * time.Millisecond) // past every one-second min
	stopServer(s)
	expect(dryRun(), "dry run: nothing is removed", "indexed entries read: 0 to 7",
		"may go: entries 0 to 2 (3 entries)", "would prune: nothing; the minimum index stays 0 (whole bundles of 256 entries are pruned)",
		"the left edge stops at entry 3, which stays: legal hold "+h.ID+" (case 41) covers it", "entries that stay: 5",
		"  1 kept by rule 2 (tenant c, event_type *, min 1y): not old enough",
		"  1 old enough, held by legal hold "+h.ID+" (case 41)",
		"  3 old enough and not held, but behind the left edge")

	s = p.serve(t)
	if code, b := call(t, http.DefaultClient, "DELETE", s.url+"v1/admin/holds/"+h.ID, admin, ""); code != 200 {
		t.Fatalf("release: %d %s", code, b)
	}
	time.Sleep(1500 * time.Millisecond)
	stopServer(s)
	out := dryRun()
	expect(out, "indexed entries read: 0 to 8", "may go: entries 0 to 4 (5 entries)",
		"the left edge stops at entry 5, which stays: rule 2 keeps it in the hot store until", "  3 old enough and not held, but behind the left edge")
	if strings.Contains(out, "held by") {
		t.Errorf("a released hold still holds:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(data, "log", "tile", "entries", "000.p", "9")); err != nil || len(b) == 0 {
		t.Errorf("after two dry runs the log's bundle of entries 0-8 is not there: %v", err)
	}
	if out, err := exec.Command(ledgerBin, "prune", "--data", data, "--config", confFile).CombinedOutput(); exitCode(err) != 2 || !strings.Contains(string(out), "give --url") {
		t.Errorf("ledger prune without --dry-run: %v\n%s", err, out)
	}
}
