// Package retention decides how long the ledger keeps each event: a
// policy of rules, each matching tenants and event types by glob and
// saying the least time its events are kept (min), optionally the most
// (max), and how long they stay immediately available. Named presets
// give the periods of HIPAA, SOX, PCI DSS, SOC 2 and GDPR.
//
// When several rules match an event the most protective wins: the longest
// min and the longest available period, and the shortest max. A policy in
// which a max could fall below a min that may apply to the same events is
// refused, since no deletion could then satisfy both. An event no rule
// matches is kept forever.
//
// The package is pure: it answers questions about periods and names;
// what is pruned, archived or held is decided by its callers.
package retention

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrInvalid is a policy that cannot be applied as given.
var ErrInvalid = errors.New("invalid retention policy")

// RuleError is an ErrInvalid about particular rules, so that a caller can
// say where in its file they are.
type RuleError struct {
	// Rules are the rules' numbers (1-based), the one at fault first.
	Rules []int
	msg   string
}

func (e *RuleError) Error() string { return ErrInvalid.Error() + ": " + e.msg }

// Is makes errors.Is(err, ErrInvalid) hold.
func (e *RuleError) Is(target error) bool { return target == ErrInvalid }

// Rule is one rule of a policy.
type Rule struct {
	// Tenant is a glob of tenant IDs; empty is "*".
	Tenant string `json:"tenant" yaml:"tenant"`
	// EventType is a glob of event types; empty is "*".
	EventType string `json:"event_type" yaml:"event_type"`
	// Preset names a regulation of Presets whose periods the rule takes;
	// Min and Available may only lengthen them.
	Preset string `json:"preset,omitempty" yaml:"preset"`
	// Min is the least time an event is kept after its timestamp.
	Min Period `json:"min" yaml:"min"`
	// Max, if set, is when an event should be deleted (or made
	// unreadable) after its timestamp.
	Max Period `json:"max,omitzero" yaml:"max"`
	// Available is how long an event stays in the hot store, not only in
	// an archive; it is at most Min.
	Available Period `json:"available,omitzero" yaml:"available"`
}

// maxRules bounds a policy.
const maxRules = 1000

// Policy is a validated set of rules. The zero Policy keeps everything
// forever.
type Policy struct {
	rules []Rule
}

// New validates rules, applies their presets and returns the policy.
func New(rules []Rule) (*Policy, error) {
	if len(rules) > maxRules {
		return nil, fmt.Errorf("%w: more than %d rules", ErrInvalid, maxRules)
	}
	p := &Policy{rules: make([]Rule, len(rules))}
	for i, r := range rules {
		r, err := r.resolve()
		if err != nil {
			return nil, &RuleError{Rules: []int{i + 1}, msg: fmt.Sprintf("rule %d: %v", i+1, err)}
		}
		p.rules[i] = r
	}
	for i, a := range p.rules {
		for j, b := range p.rules {
			if a.Max.IsZero() || !glob(a.Tenant).overlaps(glob(b.Tenant)) || !glob(a.EventType).overlaps(glob(b.EventType)) {
				continue
			}
			if a.Max.EndsBefore(b.Min) {
				return nil, &RuleError{Rules: []int{i + 1, j + 1}, msg: fmt.Sprintf("rule %d (tenant %q, event_type %q) deletes after %s, but rule %d (tenant %q, event_type %q) keeps events it may also match for %s: lengthen the max, shorten the min, or narrow the globs so they cannot meet",
					i+1, a.Tenant, a.EventType, a.Max, j+1, b.Tenant, b.EventType, b.Min)}
			}
		}
	}
	return p, nil
}

// resolve checks r and returns it with its preset's periods and its
// globs defaulted.
func (r Rule) resolve() (Rule, error) {
	if r.Tenant == "" {
		r.Tenant = "*"
	}
	if r.EventType == "" {
		r.EventType = "*"
	}
	for name, g := range map[string]string{"tenant": r.Tenant, "event_type": r.EventType} {
		if err := glob(g).validate(); err != nil {
			return r, fmt.Errorf("%s %v", name, err)
		}
	}
	if r.Preset != "" {
		ps, ok := presetNamed(r.Preset)
		if !ok {
			return r, fmt.Errorf("unknown preset %q (the presets are %s)", r.Preset, presetNames())
		}
		if !r.Min.IsZero() && r.Min.EndsBefore(ps.Min) {
			return r, fmt.Errorf("min %s is shorter than preset %s's %s; a rule may lengthen a preset's periods, never shorten them", r.Min, ps.Name, ps.Min)
		}
		if !r.Available.IsZero() && r.Available.EndsBefore(ps.Available) {
			return r, fmt.Errorf("available %s is shorter than preset %s's %s", r.Available, ps.Name, ps.Available)
		}
		if ps.NeedsMax && r.Max.IsZero() {
			return r, fmt.Errorf("preset %s needs max: how long the personal data in these events is necessary", ps.Name)
		}
		if r.Min.IsZero() {
			r.Min = ps.Min
		}
		if r.Available.IsZero() {
			r.Available = ps.Available
		}
	}
	if r.Min.IsZero() && r.Max.IsZero() {
		return r, errors.New("give min, max or a preset")
	}
	if !r.Max.IsZero() && r.Max.EndsBefore(r.Min) {
		return r, fmt.Errorf("max %s is shorter than min %s", r.Max, r.Min)
	}
	if r.Min.EndsBefore(r.Available) {
		return r, fmt.Errorf("available %s is longer than min %s: an event cannot stay available longer than it is kept", r.Available, r.Min)
	}
	return r, nil
}

// Rules returns the policy's rules with their presets applied.
func (p *Policy) Rules() []Rule { return append([]Rule(nil), p.rules...) }

// Digest is a SHA-256 of the policy's rules as applied, in hex: two
// policies with the same digest keep the same events for the same time.
func (p *Policy) Digest() string {
	b, _ := json.Marshal(append([]Rule{}, p.rules...)) // plain strings and periods: never fails
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Effective is the retention of one tenant and event type.
type Effective struct {
	// Rules are the numbers (1-based) of the matching rules.
	Rules []int `json:"rules"`
	// Forever says no rule matches: the events are kept forever, and Min,
	// Max and Available are zero.
	Forever bool `json:"forever,omitempty"`
	// Min is the longest matching min.
	Min Period `json:"min"`
	// Max is the shortest matching max; zero if none sets one.
	Max Period `json:"max,omitzero"`
	// Available is the longest matching available period.
	Available Period `json:"available,omitzero"`
	// mins, availables and maxes are every matching rule's: which of two
	// calendar periods is longer can depend on the start (30d and 1mo), so
	// Deletable, HotUntil and Overdue ask each. availables[i] is zero for
	// a rule without one.
	mins, availables, maxes []Period
}

// For returns the retention of the events of tenant of type eventType.
func (p *Policy) For(tenant, eventType string) Effective {
	e := Effective{Forever: true}
	for i, r := range p.rules {
		if !glob(r.Tenant).matches(tenant) || !glob(r.EventType).matches(eventType) {
			continue
		}
		e.Forever = false
		e.Rules = append(e.Rules, i+1)
		e.mins = append(e.mins, r.Min)
		e.availables = append(e.availables, r.Available)
		if !r.Max.IsZero() {
			e.maxes = append(e.maxes, r.Max)
		}
		if e.Min.EndsBefore(r.Min) {
			e.Min = r.Min
		}
		if e.Available.EndsBefore(r.Available) {
			e.Available = r.Available
		}
		if !r.Max.IsZero() && (e.Max.IsZero() || r.Max.EndsBefore(e.Max)) {
			e.Max = r.Max
		}
	}
	return e
}

// TenantMax returns the max that every event of tenant is past once it has
// passed: the shortest max of the rules matching the tenant and every
// event type (event_type "*"), and that rule's number (1-based). rule is
// 0 when no such rule sets a max: some event of the tenant may have none,
// and its data subjects' keys must not be destroyed for retention.
func (p *Policy) TenantMax(tenant string) (max Period, rule int) {
	for i, r := range p.rules {
		if r.Max.IsZero() || r.EventType != "*" || !glob(r.Tenant).matches(tenant) {
			continue
		}
		if rule == 0 || r.Max.EndsBefore(max) {
			max, rule = r.Max, i+1
		}
	}
	return max, rule
}

// ShortestTenantMax returns the shortest max of the rules matching every
// event type, whatever their tenants (the shortest TenantMax of any
// tenant), zero if none sets one.
func (p *Policy) ShortestTenantMax() Period {
	var shortest Period
	for _, r := range p.rules {
		if !r.Max.IsZero() && r.EventType == "*" && (shortest.IsZero() || r.Max.EndsBefore(shortest)) {
			shortest = r.Max
		}
	}
	return shortest
}

// KeepUntil returns when an event stamped at ts may first be deleted: the
// latest end of the matching rules' mins, and the rule (1-based) whose min
// ends then. rule is 0 if no rule matches: the event is kept forever.
func (e Effective) KeepUntil(ts time.Time) (until time.Time, rule int) {
	return e.HotUntil(ts, false)
}

// HotUntil returns when an event stamped at ts may first leave the hot
// store, and the rule (1-based) that keeps it there until then: the
// latest, over the matching rules, of each rule's min, or, if the event is
// archived, of its available (its min for a rule without one). rule is 0
// if no rule matches: the event is kept forever.
func (e Effective) HotUntil(ts time.Time, archived bool) (until time.Time, rule int) {
	for i, m := range e.mins {
		if archived && !e.availables[i].IsZero() {
			m = e.availables[i]
		}
		if t := m.After(ts); rule == 0 || t.After(until) {
			until, rule = t, e.Rules[i]
		}
	}
	return until, rule
}

// Deletable reports whether an event stamped at ts may be deleted at now:
// some rule matches it and every matching min has passed.
func (e Effective) Deletable(ts, now time.Time) bool {
	until, rule := e.KeepUntil(ts)
	return rule != 0 && !now.Before(until)
}

// Overdue reports whether an event stamped at ts is past a matching max
// at now: it should be deleted (or its personal data made unreadable).
func (e Effective) Overdue(ts, now time.Time) bool {
	for _, m := range e.maxes {
		if !now.Before(m.After(ts)) {
			return true
		}
	}
	return false
}

// Document is the JSON form of a policy, as GET /v1/admin/retention and
// `ledger retention show --json` give it.
type Document struct {
	// Digest is Policy.Digest.
	Digest string `json:"digest"`
	// Rules are Policy.Rules.
	Rules []Rule `json:"rules"`
	// Presets are the presets a rule may name.
	Presets []Preset `json:"presets"`
}

// MarshalJSON implements json.Marshaler: the digest, the rules as applied
// and the presets they may name.
func (p *Policy) MarshalJSON() ([]byte, error) {
	return json.Marshal(Document{Digest: p.Digest(), Rules: append([]Rule{}, p.rules...), Presets: Presets})
}
