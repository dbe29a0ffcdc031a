package index_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/index"
)

func TestNewRow(t *testing.T) {
	ev := &event.Event{
		ID: "evt-1", Timestamp: time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600)), TenantID: "t1",
		EventType: "document.read", Action: "read", Actor: event.Actor{ID: "user-1", Type: "user"},
		Resource: event.Resource{Type: "document", ID: "d-1"}, Result: "success",
	}
	leaf, err := ev.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	r, ok := index.NewRow(7, leaf)
	want := index.Columns{ID: "evt-1", Time: time.Date(2025, 3, 1, 11, 0, 0, 123456000, time.UTC), TenantID: "t1",
		EventType: "document.read", Action: "read", ActorID: "user-1", ActorType: "user", ResourceType: "document",
		ResourceID: "d-1", Result: "success"}
	if !ok || r.Index != 7 || r.Columns != want || string(r.Leaf) != string(leaf) {
		t.Fatalf("NewRow = %+v, %v; want columns %+v", r, ok, want)
	}
	bad, ok := index.NewRow(8, []byte(`not an event`))
	if ok || bad.Columns != (index.Columns{}) || bad.Index != 8 || bad.LeafHash == r.LeafHash {
		t.Fatalf("NewRow of a non-event = %+v, %v", bad, ok)
	}
	if fmt.Sprint(index.Mismatch{Index: 3, Problem: "x"}) != "entry 3: x" {
		t.Fatal("Mismatch.String")
	}
}

func TestFilterMatches(t *testing.T) {
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	r := index.Row{Columns: index.Columns{Time: ts, Received: ts.Add(time.Hour), TenantID: "t1", EventType: "document.read", Action: "read",
		ActorID: "user-1", ActorType: "user", ResourceType: "document", ResourceID: "d-1", Result: "success", SubmitterTokenID: "tok"}}
	for _, c := range []struct {
		f    index.Filter
		want bool
	}{
		{index.Filter{}, true},
		{index.Filter{ActorID: "user-1", TenantID: "t1", EventType: "document.read", SubmitterTokenID: "tok"}, true},
		{index.Filter{ActorID: "user-2"}, false},
		{index.Filter{Result: "failure"}, false},
		{index.Filter{Since: ts, Until: ts.Add(time.Microsecond)}, true},
		{index.Filter{Until: ts}, false},
		{index.Filter{Since: ts.Add(time.Nanosecond)}, true}, // microsecond precision, as the index keeps
		{index.Filter{Since: ts.Add(time.Minute), By: index.ByReceived}, true},
		{index.Filter{Until: ts.Add(time.Minute), By: index.ByReceived}, false},
	} {
		if got := c.f.Matches(r); got != c.want {
			t.Errorf("%+v.Matches = %v, want %v", c.f, got, c.want)
		}
	}
}
