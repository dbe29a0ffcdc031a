package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
)

// TestReservedTypesE2E runs `ledger serve` with access control on and
// checks that a writer token, confined to a tenant or not, cannot append an
// event of a type in the ledger's own namespaces (one event, a JSON array,
// NDJSON): each is a 403 naming the rule and the log does not grow. An
// event stamped an hour in the future is refused too; the event appended
// afterwards carries its receive time and its writer's token in the leaf.
func TestReservedTypesE2E(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	dir := t.TempDir()
	writers := map[string]string{
		"writer of tenant acme": newToken(t, ledgerBin, dir, "--role", "writer", "--tenant", "acme"),
		"writer of any tenant":  newToken(t, ledgerBin, dir, "--role", "writer"),
	}
	auditor := newToken(t, ledgerBin, dir, "--role", "auditor")
	conf := filepath.Join(dir, "ledger.yaml")
	if err := os.WriteFile(conf, []byte("limits: {max_future_skew: 2m}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, ledgerBin, "--data", dir, "--publish-interval", "10ms", "--config", conf)
	ev := func(typ string, extra string) string {
		return fmt.Sprintf(`{"event_type":%q,"action":"read","actor":{"id":"mallory","type":"user"},"resource":{"type":"audit_log"},"result":"success"%s}`, typ, extra)
	}
	ok := ev("user.login", "")
	for name, tok := range writers {
		for _, ns := range event.ReservedNamespaces {
			bad := ev(ns+"accessed", `,"tenant_id":"acme"`)
			for _, body := range []struct{ kind, body string }{
				{"one event", bad},
				{"array", "[" + ok + "," + bad + "]"},
				{"ndjson", ok + "\n" + bad + "\n"}, // recognised as NDJSON: two objects
			} {
				code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events", tok, body.body)
				if code != 403 || !strings.Contains(string(b), "only the ledger writes") || !strings.Contains(string(b), ns) {
					t.Errorf("%s, %s of %s: %d %s; want 403 naming the rule", name, body.kind, ns, code, b)
				}
			}
		}
	}
	future := ev("user.login", fmt.Sprintf(`,"timestamp":%q`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events", writers["writer of any tenant"], future); code != 400 ||
		!strings.Contains(string(b), "at most 2m0s ahead is accepted (limits.max_future_skew)") {
		t.Errorf("an event an hour in the future: %d %s; want 400 naming the limit", code, b)
	}
	// Nothing was appended: the next event is the log's first.
	code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", writers["writer of tenant acme"], ok)
	var res struct {
		Index uint64 `json:"index"`
	}
	if code != 200 || json.Unmarshal(b, &res) != nil || res.Index != 0 {
		t.Fatalf("the append after the refusals: %d %s; want index 0", code, b)
	}
	code, b = call(t, http.DefaultClient, "GET", s.url+"v1/events/0", auditor, "")
	var got struct {
		Event event.Event `json:"event"`
	}
	if code != 200 || json.Unmarshal(b, &got) != nil {
		t.Fatalf("GET /v1/events/0: %d %s", code, b)
	}
	if sub := got.Event.Submitter; sub.Type != "token" || sub.Role != "writer" || sub.TenantID != "acme" || len(sub.TokenID) != 16 ||
		time.Since(got.Event.ReceivedAt) > time.Minute || strings.Contains(string(b), writers["writer of tenant acme"]) {
		t.Fatalf("entry 0 says received_at %v, submitter %+v", got.Event.ReceivedAt, sub)
	}
}
