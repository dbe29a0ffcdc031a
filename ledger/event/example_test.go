package event_test

import (
	"fmt"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
)

// The worked example of the leaf format (docs/formats.md): an event as a
// writer token of tenant acme sent it, and as the ledger stamped it.
func ExampleEvent_Leaf() {
	ev := &event.Event{
		ID:        "01890a5d-ac96-774b-bcce-b302099a8057",
		Timestamp: time.Date(2024, 5, 1, 12, 30, 0, 500_000_000, time.UTC),
		TenantID:  "acme",
		EventType: "user.login", Action: "login",
		Actor:    event.Actor{ID: "u-42", Type: "user"},
		Resource: event.Resource{Type: "session"},
		Result:   "success", IPAddress: "192.0.2.7",
	}
	ev.ReceivedAt = time.Date(2024, 5, 1, 12, 30, 1, 250_000_000, time.UTC)
	ev.Submitter = event.TokenSubmitter("3f7a1c2b9d0e4f56", "writer", "acme")
	leaf, err := ev.Leaf()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", leaf)
	// Output:
	// {"v":2,"id":"01890a5d-ac96-774b-bcce-b302099a8057","timestamp":"2024-05-01T12:30:00.5Z","tenant_id":"acme","event_type":"user.login","action":"login","actor":{"id":"u-42","type":"user"},"resource":{"type":"session"},"result":"success","ip_address":"192.0.2.7","received_at":"2024-05-01T12:30:01.25Z","submitter":{"type":"token","token_id":"3f7a1c2b9d0e4f56","role":"writer","tenant_id":"acme"}}
}
