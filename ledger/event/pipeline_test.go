package event

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// testPipeline is a Pipeline with a fixed clock and ids id-1, id-2, ...
func testPipeline(lim Limits) *Pipeline {
	n := 0
	return NewPipeline(PipelineConfig{
		Limits: lim,
		Now:    func() time.Time { return time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("", 3600)) },
		NewID:  func() string { n++; return fmt.Sprintf("id-%d", n) },
	})
}

func TestPipelinePrepare(t *testing.T) {
	withID := `{"id":"order-7","tenant_id":"acme","action":"update","actor":{"id":"u-1","type":"user"},"resource":{"type":"order"},"result":"success",` +
		`"changes":{"password":{"old":"hunter2","new":"hunter3"}},"tags":{"api_token":"s3cret"}}`
	tests := []struct {
		name, body, tenant string
		single             bool
		ids, keys          []string
	}{
		{"one object", minimal, "", true, []string{"id-1"}, []string{"id-1"}},
		{"array", "[" + minimal + "," + withID + "]", "", false, []string{"id-1", "order-7"}, []string{"id-1", "acme\x00order-7"}},
		{"ndjson stamped with the tenant", minimal + "\n" + withID, "acme", false, []string{"id-1", "order-7"}, []string{"acme\x00id-1", "acme\x00order-7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch, err := testPipeline(Limits{}).Prepare(Submission{Body: []byte(tt.body), ContentType: "application/json", Tenant: tt.tenant,
				Submitter: TokenSubmitter("t-1", "writer", tt.tenant)})
			if err != nil {
				t.Fatal(err)
			}
			if batch.Single != tt.single || len(batch.Entries) != len(tt.ids) {
				t.Fatalf("single=%v, %d entries; want %v, %d", batch.Single, len(batch.Entries), tt.single, len(tt.ids))
			}
			for i, e := range batch.Entries {
				if e.ID != tt.ids[i] || e.Key != tt.keys[i] {
					t.Errorf("entry %d: id %q key %q, want %q %q", i, e.ID, e.Key, tt.ids[i], tt.keys[i])
				}
				ev, err := ParseLeaf(e.Leaf)
				if err != nil {
					t.Fatalf("entry %d: %v", i, err)
				}
				if ev.ID != e.ID || !ev.Timestamp.Equal(time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)) || ev.TenantID != tt.tenant && tt.tenant != "" {
					t.Errorf("entry %d: leaf %s", i, e.Leaf)
				}
				if !ev.ReceivedAt.Equal(time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)) || ev.Submitter != TokenSubmitter("t-1", "writer", tt.tenant) {
					t.Errorf("entry %d: received_at %v, submitter %+v", i, ev.ReceivedAt, ev.Submitter)
				}
				if strings.Contains(string(e.Leaf), "hunter") || strings.Contains(string(e.Leaf), "s3cret") {
					t.Errorf("entry %d: a secret was hashed: %s", i, e.Leaf)
				}
			}
		})
	}
}

func TestPipelineRefuses(t *testing.T) {
	lim := Limits{MaxBatch: 2, MaxEventBytes: 1 << 20, MaxFieldBytes: 1 << 17}
	bad := `{"action":"login","actor":{"id":"u-1","type":"robot"},"resource":{"type":"session"}}`
	other := `{"tenant_id":"globex","action":"x"}`
	huge := `{"action":"login","actor":{"id":"u-1","type":"user"},"resource":{"type":"session"},"result":"success","reason":"` + strings.Repeat("x", MaxLeafBytes) + `"}`
	tests := []struct {
		name, body, tenant string
		kind               error
		message            string    // a substring of Error()
		want               []problem // nil: not checked
	}{
		{"not JSON", "hello", "", ErrInvalid, "expected a JSON object", nil},
		{"every problem of every event", "[" + bad + "," + bad + "]", "", ErrInvalid, "invalid events; nothing was appended",
			[]problem{{0, "actor.type", "must be one of"}, {0, "result", "required"}, {1, "actor.type", "must be one of"}, {1, "result", "required"}}},
		{"too many events", strings.Repeat(minimal+"\n", 3), "", ErrTooLarge, "more than 2 events", []problem{{2, "", "more than 2 events"}}},
		{"leaf too large", huge, "", ErrTooLarge, "event 0: leaf is over 65535 bytes", nil},
		{"another tenant, before validation", "[" + minimal + "," + other + "]", "acme", ErrOtherTenant, "events of another tenant",
			[]problem{{1, "tenant_id", `is "globex", but this token writes into tenant "acme" only`}}},
		{"any tenant when not confined", other, "", ErrInvalid, "invalid events",
			[]problem{{0, "actor.id", "required"}, {0, "actor.type", "required"}, {0, "resource.type", "required"}, {0, "result", "required"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch, err := testPipeline(lim).Prepare(Submission{Body: []byte(tt.body), Tenant: tt.tenant})
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tt.kind) || batch.Entries != nil {
				t.Fatalf("err = %v (%d entries), want an *Error of kind %v", err, len(batch.Entries), tt.kind)
			}
			if !strings.Contains(e.Error(), tt.message) {
				t.Errorf("Error() = %q, want it to contain %q", e.Error(), tt.message)
			}
			if tt.want != nil {
				checkProblems(t, e.Details, tt.want)
			}
		})
	}
}

func TestPipelinePrepareOwn(t *testing.T) {
	ev := &Event{Action: "read", Actor: Actor{ID: "token:t1", Type: "api_client"}, Resource: Resource{Type: "audit_log"}, Result: "success",
		TenantID: "acme", Tags: map[string]string{"token": "abc"}}
	entries, err := testPipeline(Limits{}).PrepareOwn(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":2,"id":"id-1","timestamp":"2024-05-01T11:00:00Z","tenant_id":"acme","action":"read","actor":{"id":"token:t1","type":"api_client"},` +
		`"resource":{"type":"audit_log"},"result":"success","tags":{"token":"[REDACTED]"},"received_at":"2024-05-01T11:00:00Z","submitter":{"type":"ledger"}}`
	if len(entries) != 1 || string(entries[0].Leaf) != want || entries[0].Key != "acme\x00id-1" || entries[0].ID != "id-1" {
		t.Fatalf("entries = %+v, leaf %s\nwant %s", entries, entries[0].Leaf, want)
	}
	if _, err := testPipeline(Limits{}).PrepareOwn(&Event{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an empty event: err = %v, want ErrInvalid", err)
	}
}

// TestPipelineSame checks Entry.Fresh and Entry.Same: a resend is the same
// event whenever it is resent and whoever resends it (the receive time and
// submitter differ), the timestamp the server assigned included; one with
// other content, or another timestamp of its own, is not. A version 1 leaf
// logged before version 2 can be the original.
func TestPipelineSame(t *testing.T) {
	const withID = `{"id":"order-7","action":"update","actor":{"id":"u-1","type":"user"},"resource":{"type":"order"},"result":"success"`
	prepareAs := func(hour int, sub Submitter, body string) Entry {
		t.Helper()
		p := NewPipeline(PipelineConfig{Now: func() time.Time { return time.Date(2024, 5, 1, hour, 0, 0, 0, time.UTC) }})
		batch, err := p.Prepare(Submission{Body: []byte(body), Submitter: sub})
		if err != nil {
			t.Fatal(err)
		}
		return batch.Entries[0]
	}
	prepareAt := func(hour int, body string) Entry { return prepareAs(hour, Submitter{}, body) }
	own := `,"timestamp":"2024-05-01T09:00:00Z"}`
	original, originalOwn := prepareAt(10, withID+`}`), prepareAt(10, withID+own)
	if original.Fresh || original.Same == nil {
		t.Fatalf("an event with an id and no timestamp: fresh=%v, same set=%v; want false, true", original.Fresh, original.Same != nil)
	}
	v1, err := ParseLeaf(originalOwn.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	v1.ReceivedAt, v1.Submitter = time.Time{}, Submitter{}
	v1Leaf, _ := v1.Leaf()
	tests := []struct {
		name             string
		original, resend Entry
		same             bool
	}{
		{"resent an hour later", original, prepareAt(11, withID+`}`), true},
		{"resent with its timestamp an hour later", originalOwn, prepareAt(11, withID+own), true},
		{"resent by a token", originalOwn, prepareAs(11, TokenSubmitter("t-2", "writer", ""), withID+own), true},
		{"a version 1 original", Entry{Leaf: v1Leaf}, prepareAt(11, withID+own), true},
		{"other content", original, prepareAt(11, withID+`,"reason":"changed"}`), false},
		{"another timestamp of its own", originalOwn, prepareAt(11, withID+`,"timestamp":"2024-05-01T09:00:01Z"}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.resend.Same(tt.original.Leaf); got != tt.same {
				t.Errorf("Same(original) = %v, want %v", got, tt.same)
			}
		})
	}
	if e := prepareAt(11, minimal); !e.Fresh {
		t.Error("an event given a server id is not Fresh")
	}
	if original.Same([]byte("not a leaf")) {
		t.Error("Same accepted a leaf that is not an event")
	}
}
