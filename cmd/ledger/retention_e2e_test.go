package main_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRetentionPolicyE2E runs `ledger serve` with a retention policy in its
// configuration file and checks what an operator sees: the admin endpoint
// and `ledger retention show` (against the URL and the file) agree on the
// rules and digest; the first start, and each restart with a changed policy
// but not with the same one, appends a retention.policy_changed event that
// names the previous digest; a conflicting policy keeps serve from starting
// and is named by `ledger retention show --config`.
func TestRetentionPolicyE2E(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	admin := newToken(t, ledgerBin, data, "--role", "admin")
	auditor := newToken(t, ledgerBin, data, "--role", "auditor")
	confFile := filepath.Join(dir, "ledger.yaml")
	writeConf := func(text string) {
		t.Helper()
		if err := os.WriteFile(confFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	type policyDoc struct {
		Digest string
		Rules  []map[string]string
	}
	serve := func(init bool) (policyDoc, []map[string]string, func()) {
		t.Helper()
		args := []string{"serve", "--data", data, "--config", confFile, "--listen", "127.0.0.1:0", "--publish-interval", "20ms"}
		if init {
			args = append(args, "--init")
		}
		s := startLedger(t, http.DefaultClient, ledgerBin, args...)
		code, b := call(t, http.DefaultClient, "GET", s.url+"v1/admin/retention", admin, "")
		var doc policyDoc
		if code != 200 || json.Unmarshal(b, &doc) != nil {
			t.Fatalf("GET /v1/admin/retention: %d %s", code, b)
		}
		out, err := exec.Command(ledgerBin, "retention", "show", "--url", s.url, "--token", admin).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "retention policy sha256:"+doc.Digest) {
			t.Fatalf("ledger retention show --url: %v\n%s", err, out)
		}
		var events []map[string]string
		q := url.Values{"event_type": {"retention.policy_changed"}, "until": {time.Now().Add(time.Minute).Format(time.RFC3339)}}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			code, b := call(t, http.DefaultClient, "GET", s.url+"v1/events?"+q.Encode(), auditor, "")
			var page struct {
				Events []struct {
					Event struct{ Tags map[string]string }
				}
			}
			if code != 200 || json.Unmarshal(b, &page) != nil {
				t.Fatalf("query: %d %s", code, b)
			}
			events = events[:0]
			for _, e := range page.Events {
				events = append(events, e.Event.Tags)
			}
			// Newest first; the query index catches up with the log
			// shortly after start.
			if len(events) > 0 && events[0]["digest"] == doc.Digest || time.Now().After(deadline) {
				break
			}
		}
		return doc, events, func() { stopServer(s) }
	}

	writeConf("retention:\n  rules:\n    - {tenant: 'health-*', preset: hipaa}\n    - {event_type: 'payment.*', preset: pci-dss}\n")
	first, events, stop := serve(true)
	stop()
	if len(first.Rules) != 2 || first.Rules[0]["min"] != "6y" || first.Rules[1]["available"] != "3mo" || first.Rules[1]["tenant"] != "*" {
		t.Fatalf("the policy as applied: %+v", first)
	}
	if len(events) != 1 || events[0]["digest"] != first.Digest || events[0]["previous_digest"] == "" || events[0]["rules"] != "2" {
		t.Fatalf("after the first start, policy_changed events %v, want one with digest %s", events, first.Digest)
	}
	out, err := exec.Command(ledgerBin, "retention", "show", "--config", confFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), first.Digest) || !strings.Contains(string(out), "health-*") || !strings.Contains(string(out), "pci-dss") {
		t.Fatalf("ledger retention show --config: %v\n%s", err, out)
	}

	// The same policy again: no new event.
	_, events, stop = serve(false)
	stop()
	if len(events) != 1 {
		t.Fatalf("a restart with the same policy appended an event: %v", events)
	}

	// A changed policy: a second event, naming the first.
	writeConf("retention:\n  rules:\n    - {tenant: 'health-*', preset: hipaa}\n    - {event_type: 'payment.*', preset: pci-dss}\n    - {tenant: 'fin-*', preset: sox}\n")
	second, events, stop := serve(false)
	stop()
	if second.Digest == first.Digest || len(events) != 2 || events[0]["digest"] != second.Digest || events[0]["previous_digest"] != first.Digest {
		t.Fatalf("after a change, events %v, want a second one from %s to %s", events, first.Digest, second.Digest)
	}

	// A conflicting policy: serve refuses to start, and show names the rules.
	writeConf("retention:\n  rules:\n    - {tenant: 'health-*', preset: hipaa}\n    - {preset: gdpr, max: 2y}\n")
	for _, args := range [][]string{
		{"serve", "--data", data, "--config", confFile, "--listen", "127.0.0.1:0"},
		{"retention", "show", "--config", confFile},
	} {
		out, err := exec.Command(ledgerBin, args...).CombinedOutput()
		if code := exitCode(err); code != 2 || !strings.Contains(string(out), "rule 2") || !strings.Contains(string(out), "deletes after 2y, but rule 1") {
			t.Errorf("ledger %s with a conflicting policy: exit %d\n%s", args[0], code, out)
		}
	}
	if out, err := exec.Command(ledgerBin, "retention", "show").CombinedOutput(); exitCode(err) != 2 || !strings.Contains(string(out), "exactly one of --config and --url") {
		t.Errorf("ledger retention show with neither: %v\n%s", err, out)
	}
}

// exitCode is the exit status of a finished command's error: 0 for nil,
// -1 if it did not run.
func exitCode(err error) int {
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
