package event

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/google/uuid"
)

// Event is one audit event, with the JSON member names of the API and of the
// leaf (see the package documentation). Every field is optional on the wire
// except those that Validate requires: actor.id, actor.type, action,
// resource.type, result.
type Event struct {
	// ID is the event's identifier. A client-given ID is an idempotency key:
	// resubmitting it returns the original index. Normalize assigns a UUIDv7
	// when it is absent.
	ID string `json:"id,omitempty"`
	// Timestamp is when the event happened. Any RFC 3339 offset is accepted;
	// Normalize converts it to UTC (keeping nanoseconds) and assigns the
	// server's time when it is absent.
	Timestamp time.Time `json:"timestamp,omitzero"`
	// TenantID scopes the event to a tenant.
	TenantID string `json:"tenant_id,omitempty"`
	// EventType is a dotted lowercase taxonomy name, e.g. "user.login".
	EventType string `json:"event_type,omitempty"`
	// Action is a lowercase verb such as "create", "read" or "login".
	Action string `json:"action,omitempty"`
	// Actor is who acted.
	Actor Actor `json:"actor,omitzero"`
	// Resource is what was acted upon.
	Resource Resource `json:"resource,omitzero"`
	// Result is "success", "failure" or "denied".
	Result string `json:"result,omitempty"`
	// FailureReason says why the action failed or was denied.
	FailureReason string `json:"failure_reason,omitempty"`
	// Source is where the event came from, e.g. "web", "api", "job".
	Source string `json:"source,omitempty"`
	// IPAddress is the client's IPv4 or IPv6 address; Normalize puts it in
	// canonical form (RFC 5952 for IPv6).
	IPAddress string `json:"ip_address,omitempty"`
	// UserAgent is the client's user agent.
	UserAgent string `json:"user_agent,omitempty"`
	// SessionID identifies the actor's session.
	SessionID string `json:"session_id,omitempty"`
	// CorrelationID links events of one business operation.
	CorrelationID string `json:"correlation_id,omitempty"`
	// RequestID identifies the request that caused the event.
	RequestID string `json:"request_id,omitempty"`
	// Reason is the business or clinical justification for the action.
	Reason string `json:"reason,omitempty"`
	// Changes maps a field name to its old and new values.
	Changes map[string]Change `json:"changes,omitempty"`
	// Tags are free-form string labels.
	Tags map[string]string `json:"tags,omitempty"`

	// ReceivedAt is when the ledger accepted the event, by its own clock.
	// The Pipeline sets it; a client cannot (leaf version 2).
	ReceivedAt time.Time `json:"received_at,omitzero"`
	// Submitter is who submitted the event, as the ledger authenticated the
	// request. The Pipeline sets it from Submission.Submitter; a client
	// cannot (leaf version 2).
	Submitter Submitter `json:"submitter,omitzero"`
	// Sealed holds the members sealed under a data subject's key, encrypted
	// (leaf version 3); nil when none is. Seal sets it and Open clears it.
	Sealed *Sealed `json:"sealed,omitempty"`
}

// Actor is who performed the action.
type Actor struct {
	// ID identifies the actor. Required.
	ID string `json:"id,omitempty"`
	// Type is "user", "service", "admin", "system" or "api_client". Required.
	Type string `json:"type,omitempty"`
	// Email is the actor's email address.
	Email string `json:"email,omitempty"`
	// Role is the actor's role when it acted.
	Role string `json:"role,omitempty"`
}

// Resource is what the action was performed on.
type Resource struct {
	// Type is the kind of resource, e.g. "document". Required.
	Type string `json:"type,omitempty"`
	// ID identifies the resource.
	ID string `json:"id,omitempty"`
}

// Change is a field's value before and after the action. Either may be
// absent (nil): a created field has no Old, a deleted one no New. JSON null
// is a value ("null") and is distinct from absent. Values decoded by
// Pipeline.Prepare are in canonical form (see Leaf).
type Change struct {
	// Old is the value before, any JSON value.
	Old json.RawMessage `json:"old,omitempty"`
	// New is the value after, any JSON value.
	New json.RawMessage `json:"new,omitempty"`
}

// Enumerations of Actor.Type and Result.
var (
	ActorTypes = []string{"user", "service", "admin", "system", "api_client"}
	Results    = []string{"success", "failure", "denied"}
)

// Limits bounds what a Pipeline and Validate accept. Fields that are zero or
// negative take the default that DefaultLimits documents.
type Limits struct {
	// MaxEventBytes is the largest event, in bytes of its JSON text in the
	// request body. Default and at most MaxEventBytesLimit (32 KiB):
	// redaction can lengthen an event, and a leaf over MaxLeafBytes is
	// refused by Leaf.
	MaxEventBytes int
	// MaxBatch is the most events in one batch. Default 10000.
	MaxBatch int
	// MaxFieldBytes is the longest string field, tag value or change name, in
	// bytes. Default 4096.
	MaxFieldBytes int
	// MaxChanges is the most entries in changes. Default 256.
	MaxChanges int
	// MaxTags is the most entries in tags. Default 64.
	MaxTags int
	// MaxFutureSkew is how far after the ledger's clock a client's own
	// timestamp may be (Prepare refuses one beyond it). Default 5 minutes.
	MaxFutureSkew time.Duration
	// MaxAge is how far before the ledger's clock a client's own timestamp
	// may be (Prepare refuses one beyond it). Default 30 days: an SDK that
	// spooled events through an outage of weeks still delivers them.
	MaxAge time.Duration
}

// Defaults of the timestamp bounds of Limits.
const (
	DefaultMaxFutureSkew = 5 * time.Minute
	DefaultMaxAge        = 30 * 24 * time.Hour
)

// MaxEventBytesLimit is the largest Limits.MaxEventBytes a configuration
// may set, and its default: half of what a leaf may hold, rounded up, so
// that an event redaction lengthens still fits in a leaf in practice (Leaf
// refuses one that does not).
const MaxEventBytesLimit = (MaxLeafBytes + 1) / 2

// DefaultLimits returns the default Limits: 32 KiB events, batches of 10000,
// 4096-byte fields, 256 changes and 64 tags, timestamps at most 5 minutes
// ahead and 30 days behind.
func DefaultLimits() Limits {
	return Limits{MaxEventBytes: MaxEventBytesLimit, MaxBatch: 10000, MaxFieldBytes: 4096, MaxChanges: 256, MaxTags: 64,
		MaxFutureSkew: DefaultMaxFutureSkew, MaxAge: DefaultMaxAge}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, f := range []struct{ v, def *int }{
		{&l.MaxEventBytes, &d.MaxEventBytes}, {&l.MaxBatch, &d.MaxBatch}, {&l.MaxFieldBytes, &d.MaxFieldBytes},
		{&l.MaxChanges, &d.MaxChanges}, {&l.MaxTags, &d.MaxTags},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if l.MaxFutureSkew <= 0 {
		l.MaxFutureSkew = d.MaxFutureSkew
	}
	if l.MaxAge <= 0 {
		l.MaxAge = d.MaxAge
	}
	return l
}

// Normalize fills in what the server assigns and puts typed fields in
// canonical form. It runs before Validate and changes nothing else: no
// trimming, no case folding.
//   - ID: newID() when absent (NewID gives a UUIDv7);
//   - Timestamp: now when absent; always converted to UTC;
//   - IPAddress: canonical text when it parses (e.g. "2001:DB8::0:1" becomes
//     "2001:db8::1"); left alone otherwise, for Validate to report.
func (e *Event) Normalize(now time.Time, newID func() string) {
	if e.ID == "" {
		e.ID = newID()
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = now
	}
	e.Timestamp = e.Timestamp.UTC()
	if e.IPAddress != "" {
		if a, err := netip.ParseAddr(e.IPAddress); err == nil && a.Zone() == "" {
			e.IPAddress = a.String()
		}
	}
}

// NewID returns a new UUIDv7 (RFC 9562) in its canonical text form. Its
// leading timestamp makes IDs of consecutive events sort together.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}
