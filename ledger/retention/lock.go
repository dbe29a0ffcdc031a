package retention

import "time"

// KeepAllUntil returns the latest end, counted from t, of any rule's min:
// the date until which an archive made at t must keep everything, whatever
// the events it holds, and false when no rule sets a min (then the policy
// gives no date: events no rule matches are kept forever).
func (p *Policy) KeepAllUntil(t time.Time) (time.Time, bool) {
	var until time.Time
	found := false
	for _, r := range p.rules {
		if r.Min.IsZero() {
			continue
		}
		if end := r.Min.After(t); !found || end.After(until) {
			until, found = end, true
		}
	}
	return until, found
}
