// Package event is the audit event: its schema, strict decoding of request
// bodies, validation, normalisation, redaction of secrets, and the
// deterministic leaf encoding that is hashed into the log.
//
// An event enters the ledger through a Pipeline, built once from the
// server's limits, redaction keys and clock. Its entry point, Prepare, takes
// a request body and returns the entries to append, or an *Error listing
// every problem (PrepareOwn takes the events a server writes itself):
//
//	pipe := event.NewPipeline(event.PipelineConfig{Limits: limits, Redactor: redactor})
//	batch, err := pipe.Prepare(event.Submission{Body: body, ContentType: contentType, Tenant: tenant})
//	for _, e := range batch.Entries { append(e.Key, e.Leaf) } // answer with e.ID
//
// The Pipeline decodes, confines to the tenant, polices what clients may
// submit, normalises, validates, redacts, stamps and encodes, in that
// order: secrets are redacted before anything is hashed or stored,
// whatever the transport. Errors wrap the sentinels ErrInvalid,
// ErrTooLarge, ErrOtherTenant and ErrReserved, which a transport maps to
// its own statuses.
//
// The Pipeline writes leaves of version 2; ParseLeaf reads both versions,
// so that a log written before version 2 stays readable and verifiable.
//
// # Leaf format, version 1
//
// A leaf is one JSON object, without insignificant whitespace:
//
//	{"v":1,"id":…,"timestamp":…,"tenant_id":…,"event_type":…,"action":…,
//	 "actor":{"id":…,"type":…,"email":…,"role":…},"resource":{"type":…,"id":…},
//	 "result":…,"failure_reason":…,"source":…,"ip_address":…,"user_agent":…,
//	 "session_id":…,"correlation_id":…,"request_id":…,"reason":…,
//	 "changes":{NAME:{"old":…,"new":…},…},"tags":{NAME:…,…}}
//
// The rules:
//   - "v":1 comes first; the other members follow in the order above.
//   - A member whose value is empty is omitted: an empty string, a zero
//     timestamp, an actor or resource whose members are all empty, empty
//     changes or tags. (Tag values and change names are kept even when empty;
//     an absent old or new is omitted, while JSON null is kept.)
//   - timestamp is RFC 3339 in UTC with "Z", and as many fractional digits
//     as needed and no more (Go's time.RFC3339Nano): nanoseconds are kept.
//   - changes and tags members are sorted by name, bytewise (that is, by
//     Unicode code point).
//   - Change values are canonical: no whitespace, object members sorted by
//     name bytewise (no duplicates), numbers copied verbatim as written
//     (1.0 stays 1.0), strings unescaped and re-escaped as below.
//   - Strings escape only '"', '\' and U+0000..U+001F (as \", \\, \b, \f,
//     \n, \r, \t, else \u00xx in lowercase hex); everything else, HTML
//     characters and U+2028/U+2029 included, is written as UTF-8. This is
//     the string form of RFC 8785 (JCS).
//   - A leaf is at most 65535 bytes (MaxLeafBytes).
//
// "sealed" is a reserved member name, for a future version in which fields
// that an operator marks erasable are encrypted per data subject; the leaf would commit to the ciphertext. Version 1 leaves never hold
// it, and ParseLeaf refuses one that does.
//
// For example, this event (as Leaf writes it):
//
//	{"v":1,"id":"01890a5d-ac96-774b-bcce-b302099a8057","timestamp":"2024-05-01T12:30:00.5Z",
//	"event_type":"user.login","action":"login","actor":{"id":"u-42","type":"user"},
//	"resource":{"type":"session"},"result":"success","ip_address":"192.0.2.7"}
//
// is one line, without the line breaks shown here.
//
// # Leaf format, version 2
//
// Version 2 adds what only the ledger can state: when it received the
// event and who submitted it. A version 2 leaf is a version 1 leaf with
// "v":2 in place of "v":1 and two more members after all the others:
//
//	{"v":2,…the members of version 1…,"received_at":…,
//	 "submitter":{"type":…,"token_id":…,"role":…,"tenant_id":…}}
//
// The rules of version 1 apply, and:
//   - received_at (Event.ReceivedAt) is the ledger's clock when it
//     received the request, in the form of timestamp; the same for every
//     event of one request;
//   - submitter (Event.Submitter) has type "token", "open" or "ledger"
//     (SubmitterTypes); token_id (a token's public id, never its secret)
//     and role are present for "token" only and then required; tenant_id
//     only for a token confined to a tenant;
//   - both members are present in every version 2 leaf, and in no
//     version 1 leaf: Leaf writes version 2 exactly when the event has
//     either (and fails unless it has both), ParseLeaf refuses a version 2
//     leaf without them and a version 1 leaf with them.
//
// Clients cannot set either: Prepare refuses an event that holds them.
// A later version may add members (such as "sealed") after "tags" and
// before "received_at"; a version number says which members a leaf may
// hold, and ParseLeaf refuses a version it does not know.
//
// For example, the event above sent by a writer token of tenant acme and
// received 750 ms after its timestamp (as Leaf writes it; see
// ExampleEvent_Leaf):
//
//	{"v":2,"id":"01890a5d-ac96-774b-bcce-b302099a8057","timestamp":"2024-05-01T12:30:00.5Z",
//	"tenant_id":"acme","event_type":"user.login","action":"login","actor":{"id":"u-42","type":"user"},
//	"resource":{"type":"session"},"result":"success","ip_address":"192.0.2.7",
//	"received_at":"2024-05-01T12:30:01.25Z",
//	"submitter":{"type":"token","token_id":"3f7a1c2b9d0e4f56","role":"writer","tenant_id":"acme"}}
//
// # Reserved event types and timestamp bounds
//
// Event types in the ledger's own namespaces (ReservedNamespaces: audit.,
// admin., privacy., retention., ledger.) are written only by the ledger,
// through PrepareOwn; Prepare refuses a client's (ErrReserved). Prepare
// also refuses a client's own timestamp more than Limits.MaxFutureSkew
// after the Pipeline's clock or more than Limits.MaxAge before it.
package event
