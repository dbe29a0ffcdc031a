package event

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Pipeline turns submitted events into the entries the log appends. It is
// the one place where the steps run and their order is kept, so that no
// transport can, say, hash an event before its secrets are redacted. Build
// it once with NewPipeline; it is safe for concurrent use.
//
// Prepare takes a request body and runs, in this order:
//
//  1. decode: the body is a batch of events, decoded strictly (an object, an
//     array or NDJSON; see Submission);
//  2. confine: a submission confined to a tenant stamps events without one
//     and refuses events of another tenant (ErrOtherTenant);
//  3. police what clients may submit: no event type in the ledger's own
//     namespaces (ReservedNamespaces, ErrReserved), no timestamp beyond
//     Limits.MaxFutureSkew ahead of the clock or Limits.MaxAge behind it;
//  4. normalise (Normalize: an id, a timestamp, canonical typed fields) and
//     validate (Validate) every event;
//  5. redact the secrets of each event (Redactor.Redact), before anything
//     is hashed or stored;
//  6. stamp what only the server knows: the receive time (the clock, read
//     once per batch) and the submitter (Submission.Submitter);
//  7. seal, when PipelineConfig.Seal is set, the members it names under the
//     key of the event's data subject (Event.Seal): the leaf is then of
//     version 3;
//  8. encode its leaf (Leaf, version 2 or 3), the bytes stored and proven,
//     and derive its idempotency key (Key).
//
// PrepareOwn runs steps 4 to 8 for events the server writes itself, with
// SubmitterLedger. A batch is atomic: an event refused at any step fails
// the whole batch, with every problem that step found listed in the
// *Error.
//
// Steps that change what is hashed belong before step 8; checks on what clients may submit belong in step 3, in Prepare only.
type Pipeline struct {
	limits   Limits
	redactor *Redactor
	now      func() time.Time
	newID    func() string
	seal     *SealConfig
}

// PipelineConfig configures a Pipeline. Zero values take the documented
// defaults.
type PipelineConfig struct {
	// Limits bounds batches and events. Fields that are zero take the
	// defaults of DefaultLimits.
	Limits Limits
	// Redactor redacts secrets before an event is hashed. Default
	// NewRedactor(DefaultRedactKeys, DefaultDetectors...); NewRedactor(nil)
	// redacts nothing.
	Redactor *Redactor
	// Now is the clock for the timestamps the server assigns. Default
	// time.Now.
	Now func() time.Time
	// NewID returns the id of an event submitted without one. Default NewID.
	NewID func() string
	// Seal, when set, seals members of every event under its data
	// subject's key. Default nil: nothing is sealed, leaves are of version
	// 2.
	Seal *SealConfig
}

// SealConfig says what a Pipeline seals and under whose key.
type SealConfig struct {
	// Sealing names the members sealed. It must pass Sealing.Check.
	Sealing Sealing
	// Tenants, if set, names the members sealed in the events of these
	// tenants instead of Sealing. Each must pass Sealing.Check.
	Tenants map[string]Sealing
	// Subject is the member naming an event's data subject: "actor.id",
	// "resource.id" or "tag:NAME". An event with something to seal and an
	// empty subject is refused (ErrInvalid).
	Subject string
	// Key returns the id and 32-byte key of a data subject in a tenant,
	// creating them on first use, for sealing an event stamped at; a
	// created key must be durable before it returns (see
	// ledger/subjectkey). Required.
	Key func(tenant, subject string, at time.Time) (kid string, key []byte, err error)
	// Random is the source of nonces. Default crypto/rand.Reader.
	Random io.Reader
}

// sealingOf returns what is sealed in the events of tenant.
func (c *SealConfig) sealingOf(tenant string) Sealing {
	if s, ok := c.Tenants[tenant]; ok {
		return s
	}
	return c.Sealing
}

// Check reports a configuration that cannot seal.
func (c *SealConfig) Check() error {
	if err := c.Sealing.Check(); err != nil {
		return err
	}
	for tenant, s := range c.Tenants {
		if err := s.Check(); err != nil {
			return fmt.Errorf("tenant %q: %w", tenant, err)
		}
	}
	if c.Key == nil {
		return errors.New("sealing needs a key store")
	}
	return CheckSubject(c.Subject)
}

// CheckSubject reports a SealConfig.Subject that names no member.
func CheckSubject(subject string) error {
	switch {
	case subject == "actor.id", subject == "resource.id":
	case strings.HasPrefix(subject, "tag:") && len(subject) > len("tag:"):
	default:
		return fmt.Errorf("the subject %q is not actor.id, resource.id or tag:NAME", subject)
	}
	return nil
}

// subject returns the data subject of ev.
func (c *SealConfig) subject(ev *Event) string {
	switch c.Subject {
	case "actor.id":
		return ev.Actor.ID
	case "resource.id":
		return ev.Resource.ID
	}
	return ev.Tags[strings.TrimPrefix(c.Subject, "tag:")]
}

// NewPipeline returns a Pipeline for cfg. It panics on a cfg.Seal that
// fails its Check: the caller checks configuration first.
func NewPipeline(cfg PipelineConfig) *Pipeline {
	p := &Pipeline{limits: cfg.Limits.withDefaults(), redactor: cfg.Redactor, now: cfg.Now, newID: cfg.NewID}
	if cfg.Seal != nil {
		if err := cfg.Seal.Check(); err != nil {
			panic("event: " + err.Error())
		}
		seal := *cfg.Seal
		if seal.Random == nil {
			seal.Random = rand.Reader
		}
		p.seal = &seal
	}
	if p.redactor == nil {
		p.redactor = NewRedactor(DefaultRedactKeys, DefaultDetectors...)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.newID == nil {
		p.newID = NewID
	}
	return p
}

// Submission is a request body of events and what the transport knows of
// its sender.
type Submission struct {
	// Body is one JSON event, a JSON array of events, or NDJSON: objects
	// separated by newlines, blank lines allowed. Decoding is strict:
	// member names match exactly (case-sensitive), unknown or duplicate
	// members are refused at every level, strings must be valid UTF-8, and
	// nothing may follow the batch. JSON null is taken as absent for fields
	// (not for tag values), and so are empty changes and tags ({}).
	Body []byte
	// ContentType is the body's media type. NDJSON is expected when it is
	// application/x-ndjson (or application/ndjson), and recognised without
	// it when a body holds more than one object.
	ContentType string
	// Tenant, when not empty, is the only tenant the sender may write into:
	// an event without tenant_id is given it, and an event naming another
	// fails the batch (ErrOtherTenant, before the events are validated).
	Tenant string
	// Submitter is who sent the body, as the transport authenticated it: a
	// token (TokenSubmitter), or SubmitterOpen when access control is off.
	// It is written into every event's leaf, with the time the Pipeline
	// received the body. Default: SubmitterOpen.
	Submitter Submitter
}

// Entry is one event, prepared: what the log appends and what the sender is
// told.
type Entry struct {
	// ID is the event's id, the sender's or the one assigned.
	ID string
	// Key is the event's idempotency key (see Key).
	Key string
	// Leaf is the event's leaf (see Leaf): the bytes hashed, stored and
	// proven.
	Leaf []byte
	// Fresh is true when the server assigned ID: no earlier event can have
	// it.
	Fresh bool
	// Same reports whether a leaf logged earlier under Key is this same
	// event sent again: equal once given what the server filled in for this
	// one (its receive time and submitter, and its timestamp when the
	// sender left it out).
	Same func(original []byte) bool
}

// Batch is a prepared submission.
type Batch struct {
	// Entries are the batch's events, in the order of the body.
	Entries []Entry
	// Single is true when the body was one JSON object rather than an array
	// or NDJSON: the sender expects one result, not a list.
	Single bool
}

// Prepare decodes, confines, polices, normalises, validates, redacts,
// stamps and encodes the events of s (see Pipeline). A refused batch is an
// *Error wrapping ErrInvalid, ErrTooLarge, ErrOtherTenant or ErrReserved,
// with every problem found.
func (p *Pipeline) Prepare(s Submission) (Batch, error) {
	events, single, err := decodeBatch(s.Body, s.ContentType, p.limits)
	if err != nil {
		return Batch{}, err
	}
	if err := confine(events, s.Tenant); err != nil {
		return Batch{}, err
	}
	if err := refuseReserved(events); err != nil {
		return Batch{}, err
	}
	now := p.now()
	if err := boundTimestamps(events, now, p.limits); err != nil {
		return Batch{}, err
	}
	sub := s.Submitter
	if sub == (Submitter{}) {
		sub = Submitter{Type: SubmitterOpen}
	}
	entries, err := p.prepare(events, sub, now)
	if err != nil {
		return Batch{}, err
	}
	return Batch{Entries: entries, Single: single}, nil
}

// PrepareOwn normalises, validates, redacts and encodes events that the
// server writes itself, such as the audit of its own API (see Pipeline);
// their submitter is SubmitterLedger. It changes the events in place. Its
// errors are those of Prepare.
func (p *Pipeline) PrepareOwn(events ...*Event) ([]Entry, error) {
	return p.prepare(events, Submitter{Type: SubmitterLedger}, p.now())
}

// confine stamps events without a tenant with tenant, and refuses those of
// another, when tenant is not empty.
func confine(events []*Event, tenant string) error {
	if tenant == "" {
		return nil
	}
	var problems []FieldError
	for i, ev := range events {
		switch ev.TenantID {
		case "":
			ev.TenantID = tenant
		case tenant:
		default:
			problems = append(problems, FieldError{Index: i, Field: "tenant_id",
				Message: fmt.Sprintf("is %q, but this token writes into tenant %q only", ev.TenantID, tenant)})
		}
	}
	if len(problems) > 0 {
		return &Error{Kind: ErrOtherTenant, Message: "events of another tenant; nothing was appended", Details: problems}
	}
	return nil
}

// prepare runs the steps every event goes through, whoever wrote it. All
// events are validated before any is encoded, so that one answer lists
// every problem of the batch.
func (p *Pipeline) prepare(events []*Event, sub Submitter, now time.Time) ([]Entry, error) {
	if err := sub.check(); err != nil {
		return nil, fmt.Errorf("event: the submission's submitter: %w", err)
	}
	var problems []FieldError
	fresh, stamped := make([]bool, len(events)), make([]bool, len(events))
	for i, ev := range events {
		fresh[i], stamped[i] = ev.ID == "", ev.Timestamp.IsZero()
		ev.Normalize(now, p.newID)
		for _, fe := range ev.Validate(p.limits) {
			fe.Index = i
			problems = append(problems, fe)
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Kind: ErrInvalid, Message: "invalid events; nothing was appended", Details: problems}
	}
	entries := make([]Entry, len(events))
	for i, ev := range events {
		p.redactor.Redact(ev)
		ev.ReceivedAt, ev.Submitter = now, sub
		leaf, err := ev.Leaf()
		if err != nil {
			return nil, leafError(i, err)
		}
		// A resend is compared with the leaf before sealing, opened with
		// the key the original was sealed under.
		var kid string
		var key []byte
		stored := leaf // the leaf written: the sealed one when ev is sealed
		if p.seal != nil {
			if kid, key, err = p.sealEvent(i, ev); err != nil {
				return nil, err
			}
			if kid != "" {
				if stored, err = ev.Leaf(); err != nil {
					return nil, leafError(i, err)
				}
			}
		}
		same := sameEvent(leaf, ev, stamped[i], kid, key)
		entries[i] = Entry{ID: ev.ID, Key: Key(ev.TenantID, ev.ID), Leaf: stored, Fresh: fresh[i], Same: same}
	}
	return entries, nil
}

func leafError(i int, err error) error {
	kind := ErrInvalid
	if errors.Is(err, ErrLeafTooLarge) {
		kind = ErrTooLarge
	}
	return &Error{Kind: kind, Message: fmt.Sprintf("event %d: %v; nothing was appended", i, err)}
}

// sealEvent seals the members of ev (event i of its batch) that p.seal
// names, returning the subject key's id and key, or "" when ev has none of
// them.
func (p *Pipeline) sealEvent(i int, ev *Event) (string, []byte, error) {
	sealing := p.seal.sealingOf(ev.TenantID)
	if !slices.ContainsFunc(sealing.Fields, func(f string) bool { return isSet(ev, f) }) &&
		!slices.ContainsFunc(sealing.Tags, func(k string) bool { _, ok := ev.Tags[k]; return ok }) {
		return "", nil, nil // nothing of ev is sealed: it stays version 2
	}
	subject := p.seal.subject(ev)
	if subject == "" {
		return "", nil, &Error{Kind: ErrInvalid, Message: "invalid events; nothing was appended", Details: []FieldError{{Index: i,
			Field: strings.TrimPrefix(p.seal.Subject, "tag:"), Message: "is empty, but the event has members to seal under its data subject's key, which it names"}}}
	}
	kid, key, err := p.seal.Key(ev.TenantID, subject, ev.Timestamp)
	if err != nil {
		return "", nil, fmt.Errorf("event %d: couldn't get the key to seal under: %w", i, err)
	}
	if _, err := ev.Seal(sealing, kid, key, p.seal.Random); err != nil {
		return "", nil, fmt.Errorf("event %d: %w", i, err)
	}
	return kid, key, nil
}

// sameEvent returns the Entry.Same of ev, whose leaf is leaf: an original
// leaf is the same event sent again if giving it what the ledger filled in
// for ev (its receive time and submitter, and its timestamp when stamped is
// true) makes it leaf. A resend is the same event even from another token
// (the SDK's spool may resend under a rotated one), and a leaf of version
// 1 logged before version 2 existed can be the original. A sealed event
// (kid not empty, leaf being its leaf before sealing) is the same as an
// original sealed under the same key that opens to it: the nonce differs
// each time.
func sameEvent(leaf []byte, ev *Event, stamped bool, kid string, key []byte) func(original []byte) bool {
	ts, received, sub := ev.Timestamp, ev.ReceivedAt, ev.Submitter
	return func(original []byte) bool {
		o, err := ParseLeaf(original)
		if err != nil {
			return false
		}
		if o.Sealed != nil && (o.Sealed.KID != kid || o.Open(key) != nil) {
			return false
		}
		if stamped {
			o.Timestamp = ts
		}
		o.ReceivedAt, o.Submitter = received, sub
		again, err := o.Leaf()
		return err == nil && bytes.Equal(again, leaf)
	}
}
