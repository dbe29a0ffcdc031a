package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// TestCheckTimes: the bounds a proof puts on an entry's time, and the
// timestamps they show to be false.
func TestCheckTimes(t *testing.T) {
	w := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cosigned := &tiles.SignedCheckpoint{Cosignatures: []tiles.Cosignature{{Witness: "a", Time: w.Add(3 * time.Second)}, {Witness: "b", Time: w}}}
	v2 := func(ts, received string) string {
		return `{"v":2,"id":"e","timestamp":"` + ts + `","action":"read","received_at":"` + received + `","submitter":{"type":"open"}}`
	}
	for _, tt := range []struct {
		name, leaf string
		sc         *tiles.SignedCheckpoint
		want       []string // lines of the report, in order
		ok         bool
	}{
		{"within the bounds", v2("2026-03-01T11:59:59Z", "2026-03-01T12:00:00.4Z"), cosigned,
			[]string{"ok received: the ledger received the event at 2026-03-01T12:00:00.4Z", "ok witnessed: the entry existed by 2026-03-01T12:00:00Z", "ok timestamp"}, true},
		{"in 2099 (version 1)", `{"v":1,"timestamp":"2099-01-01T00:00:00Z","action":"read"}`, cosigned,
			[]string{"ok witnessed", "FAIL: timestamp: the event's timestamp 2099-01-01T00:00:00Z is after 2026-03-01T12:00:01Z"}, false},
		{"ahead of its receipt", v2("2026-03-01T11:59:00Z", "2026-03-01T11:50:00Z"), cosigned,
			[]string{"ok received", "ok witnessed", "FAIL: timestamp: the event's timestamp 2026-03-01T11:59:00Z is more than 5m0s after the ledger received it"}, false},
		{"received after it was witnessed", v2("2026-03-01T11:00:00Z", "2026-03-01T12:00:02Z"), cosigned,
			[]string{"ok received", "ok witnessed", "ok timestamp", "FAIL: received: the leaf says the ledger received the event at 2026-03-01T12:00:02Z, after witnesses"}, false},
		{"no witnesses", v2("2026-03-01T11:59:59Z", "2026-03-01T12:00:00Z"), &tiles.SignedCheckpoint{},
			[]string{"ok received", "ok witnessed: no witness cosignature", "ok timestamp"}, true},
		{"not an event", `key|payload`, cosigned, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			r := &report{out: &out, progress: io.Discard}
			checkTimes(r, []byte(tt.leaf), tt.sc, 5*time.Minute)
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(tt.want) == 0 {
				if out.Len() != 0 {
					t.Fatalf("reported %q for a leaf that is not an event", out.String())
				}
				return
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("report:\n%s\nwant %d lines", out.String(), len(tt.want))
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("line %d: %q, want it to start %q", i, lines[i], want)
				}
			}
			if got := r.finish() == 0; got != tt.ok {
				t.Errorf("ok = %v, want %v", got, tt.ok)
			}
		})
	}
}
