package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/hold"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/retention"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
)

// TestShred runs crypto-shredding at max over a real key file and index,
// with a clock that moves: a key is destroyed once the tenant-wide max has
// passed since the newest event sealed under it, never before, never under
// a hold, never in a tenant without a max, and each destruction appends one
// privacy.erasure_executed event with the reason "retention max"; an
// erasure a crash left without its event gets it from the next run, once.
func TestShred(t *testing.T) {
	keys := newKeyFile(t)
	rules := []retention.Rule{{Tenant: "c", Min: mustPeriod(t, "1d"), Max: mustPeriod(t, "30d")}, {Tenant: "a", Preset: "hipaa"}}
	policy, err := retention.New(rules)
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(queryNow.UnixNano())
	var holds *hold.Store
	s := newAccessServer(t, func(c *httpapi.Config) {
		holds = c.Holds
		c.Seal = &event.SealConfig{Sealing: event.Sealing{Fields: event.DefaultSealedFields}, Subject: "actor.id", Key: subjectkey.KeyFunc(context.Background(), keys)}
		c.SubjectKeys, c.Retention = keys, policy
		c.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	})
	api := s.api
	day := 24 * time.Hour
	for _, e := range []struct {
		tenant, actor string
		age           time.Duration
	}{{"c", "erin", 40 * day}, {"c", "finn", 10 * day}, {"c", "hank", 40 * day}, {"a", "gus", 40 * day}} {
		body := fmt.Sprintf(`{"tenant_id":%q,"timestamp":%q,"action":"update","actor":{"id":%q,"type":"user","email":"%s@example.com"},"resource":{"type":"profile"},"result":"success"}`,
			e.tenant, queryNow.Add(-e.age).Format(time.RFC3339), e.actor, e.actor)
		if code, _, b := s.call(t, writerAny, "POST", "/v1/events?wait=published", body); code != 200 {
			t.Fatalf("append: %d %s", code, b)
		}
	}
	kidOf := func(tenant, subject string) string {
		kid, _, err := keys.Key(context.Background(), tenant, subject, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return kid
	}
	erin, finn, hank, gus := kidOf("c", "erin"), kidOf("c", "finn"), kidOf("c", "hank"), kidOf("a", "gus")
	if _, err := holds.Place(hold.Hold{Scope: hold.Scope{TenantID: "c", ActorID: "hank"}, Reason: "case 9", PlacedBy: "test"}, queryNow); err != nil {
		t.Fatal(err)
	}
	s.sync(t)

	shred := func(destroyed, completed []string, held int) {
		t.Helper()
		rep, err := api.Shred(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rep.Destroyed, destroyed) || !slices.Equal(rep.Completed, completed) || rep.Held != held {
			t.Fatalf("Shred = %+v; want destroyed %v, completed %v, held %d", rep, destroyed, completed, held)
		}
	}
	opens := func(kid string) bool {
		_, err := keys.Open(context.Background(), kid)
		return err == nil
	}
	shred([]string{erin}, nil, 1)
	if opens(erin) || !opens(finn) || !opens(hank) || !opens(gus) {
		t.Fatal("after the first run, want erin's key gone and the others kept")
	}
	shred(nil, nil, 1) // nothing more is due, and nothing is appended twice

	clock.Add(int64(21 * day)) // finn's event is now 31 days old
	shred([]string{finn}, nil, 1)

	// A crash between a key's destruction and its event: the next run
	// appends the event.
	lost, err := keys.Destroy(context.Background(), "a", "gus", subjectkey.Why{Reason: httpapi.ReasonRequest, By: "token:test"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	shred(nil, []string{gus}, 1)
	shred(nil, nil, 1)

	s.sync(t)
	_, _, b := s.call(t, auditor, "GET", "/v1/events?event_type=privacy.erasure_executed&since=2026-01-01T00:00:00Z&until=2026-06-01T00:00:00Z", "")
	for _, want := range []struct {
		kid, reason string
	}{{erin, `"reason":"retention max"`}, {finn, `"reason":"retention max"`}, {lost.KID, `"reason":"request"`}} {
		if n := bytes.Count(b, []byte(`"kid":"`+want.kid+`"`)); n != 1 || !bytes.Contains(b, []byte(want.reason)) {
			t.Errorf("%d events name key %s (want one, %s): %s", n, want.kid, want.reason, b)
		}
	}
	if bytes.Contains(b, []byte(hank)) || bytes.Contains(b, []byte("@example.com")) {
		t.Errorf("the erasure events name a key held, or personal data: %s", b)
	}
	if !bytes.Contains(b, []byte(`"rule":"1"`)) || !bytes.Contains(b, []byte(`"requested_by":"token:test"`)) || !bytes.Contains(b, []byte(`"count":"1"`)) {
		t.Errorf("the erasure events lack their rule, requester or count: %s", b)
	}
}

func mustPeriod(t *testing.T, s string) retention.Period {
	t.Helper()
	p, err := retention.ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
