package main

import (
	"bytes"
	"fmt"
	"time"
)

// fillKinds are the kinds of event `ledger bench fill` writes, in the
// proportions of a typical application's audit trail (reads dominate).
var fillKinds = []struct{ eventType, action, resource string }{
	{"data.read", "read", "record"},
	{"data.read", "read", "record"},
	{"data.read", "read", "document"},
	{"data.update", "update", "record"},
	{"user.login", "login", "session"},
	{"user.logout", "logout", "session"},
	{"document.create", "create", "document"},
	{"document.delete", "delete", "document"},
	{"iam.role_change", "update", "role"},
	{"api.token_create", "create", "token"},
}

// fillActors is how many actors the generated events share.
const fillActors = 5000

// fillGen generates the events of a fill: event n is the same in every run
// of the same configuration, except for the id the ledger assigns.
type fillGen struct {
	c     fillConfig
	first time.Time     // timestamp of event 0
	step  time.Duration // between consecutive events
}

// newFillGen spreads the timestamps of c.entries events over the year
// before now, in order, as a log filled over a year would have them.
func newFillGen(c fillConfig) *fillGen {
	year := 365 * 24 * time.Hour
	return &fillGen{c: c, first: time.Now().Add(-year).UTC(), step: max(time.Microsecond, year/time.Duration(c.entries))}
}

// body writes events first..first+n-1 to b as NDJSON.
func (g *fillGen) body(b *bytes.Buffer, first, n uint64) {
	for i := first; i < first+n; i++ {
		g.event(b, i)
	}
}

// event writes event n, about g.c.eventBytes of JSON and a newline.
func (g *fillGen) event(b *bytes.Buffer, n uint64) {
	start := b.Len()
	h := mix(n)
	k := fillKinds[h%uint64(len(fillKinds))]
	// Actors are skewed: u³ puts most events on the first few hundred.
	u := float64(h>>11) / (1 << 53)
	actor := int(fillActors * u * u * u)
	actorType := "user"
	if actor%10 == 9 {
		actorType = "service"
	}
	b.WriteString(`{`)
	if g.c.tenants > 1 {
		fmt.Fprintf(b, `"tenant_id":"tenant-%d",`, actor%g.c.tenants)
	}
	ts := g.first.Add(time.Duration(n) * g.step)
	fmt.Fprintf(b, `"timestamp":"%s","event_type":"%s","action":"%s",`, ts.Format(time.RFC3339Nano), k.eventType, k.action)
	fmt.Fprintf(b, `"actor":{"id":"user-%d","type":"%s","email":"user%d@example.com"},"resource":{"type":"%s","id":"%s-%d"},`,
		actor, actorType, actor, k.resource, k.resource, (h>>20)%100000)
	switch r := (h >> 40) % 20; {
	case r < 2:
		b.WriteString(`"result":"failure","failure_reason":"validation failed",`)
	case r < 3:
		b.WriteString(`"result":"denied","failure_reason":"missing permission",`)
	default:
		b.WriteString(`"result":"success",`)
	}
	fmt.Fprintf(b, `"source":"web","ip_address":"10.%d.%d.%d","user_agent":"Mozilla/5.0 (X11; Linux x86_64) ledger-fill/1",`+
		`"session_id":"sess-%d-%d","request_id":"req-%d","reason":"`, actor%256, (h>>8)%256, h%256, actor, n/64, n)
	padEvent(b, start, g.c.eventBytes)
}

// padEvent ends the event that started at start in b with a string member's
// padding and closing quote, brace and newline, so that it is about size
// bytes.
func padEvent(b *bytes.Buffer, start, size int) {
	for b.Len()-start < size-3 {
		b.WriteByte('x')
	}
	b.WriteString("\"}\n")
}

// mix is SplitMix64's finaliser: a well-spread hash of n.
func mix(n uint64) uint64 {
	n += 0x9e3779b97f4a7c15
	n = (n ^ (n >> 30)) * 0xbf58476d1ce4e5b9
	n = (n ^ (n >> 27)) * 0x94d049bb133111eb
	return n ^ (n >> 31)
}
