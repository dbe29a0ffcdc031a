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
