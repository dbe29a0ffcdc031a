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
// The Pipeline writes leaves of version 2, and of version 3 for an event
// with members sealed under its data subject's key when
// PipelineConfig.Seal is set; ParseLeaf reads every version, so that a log
// written before a version existed stays readable and verifiable.
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
// "sealed" is the member of version 3 (below); leaves of versions 1 and 2
// never hold it, and ParseLeaf refuses one that does.
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
// A version number says which members a leaf may hold, and ParseLeaf
// refuses a version it does not know.
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
// # Leaf format, version 3
//
// Version 3 seals members that hold personal data: they are encrypted
// under a key of the event's data subject, which can be destroyed to erase
// them while the leaf, which commits to the ciphertext, keeps verifying. A
// version 3 leaf is a version 2 leaf with "v":3, the sealed members absent
// from their places, and one more member last, after "submitter":
//
//	"sealed":{"kid":KID,"nonce":NONCE,"ct":CT}
//
// The rules of version 2 apply, and:
//   - KID (Sealed.KID) names the subject's key: 32 lowercase hex digits,
//     random, a pseudonym of the subject;
//   - NONCE is 12 random bytes and CT the AES-256-GCM ciphertext followed
//     by its 16-byte tag, both in standard base64 with padding;
//   - the plaintext is the sealed members as one JSON object in the leaf's
//     encoding: members in leaf order, "actor" holding only "email" and
//     "role", "tags" only the sealed tags, empty members omitted;
//   - the event key is EK = HKDF-SHA256(secret SK, salt empty, info INFO,
//     32 bytes), SK being the subject's 32-byte key and INFO the bytes
//     "ledger sealed v3" 0x00 tenant_id 0x00 id (tenant_id empty when the
//     event has none);
//   - the associated data is INFO 0x00 KID, so that a ciphertext moved to
//     another event, tenant or key does not open.
//
// Which members may be sealed is SealableFields (DefaultSealedFields unless
// configured), plus tags by name. Event.Seal seals; Event.Open opens with
// the subject's key.
//
// Test vector: SK 000102…1f (the bytes 0 to 31), tenant "acme", id
// "0190f5c2-7a4e-7b1c-9d2e-3f4a5b6c7d8e", KID
// "5f3c1e9a0b2d4f6e8a1c3e5f7a9b0d2c", nonce a0a1a2…ab, plaintext
//
//	{"actor":{"email":"alice@example.com"},"ip_address":"192.0.2.7","reason":"chart review"}
//
// give EK 44e631203749a13cb3c8e00be70a81f76355a638cc56b1f7ddaa1e4fb7250034
// and the member
//
//	"sealed":{"kid":"5f3c1e9a0b2d4f6e8a1c3e5f7a9b0d2c","nonce":"oKGio6Slpqeoqaqr",
//	"ct":"JJknJXr4omtdytPk3UxEIYQfY02i2dwTgVMa8Mcc7hnqq0bubNVAGOOGgMAwZxolBMk/RGGrjGHRcmGOMZVw8TGiEQgugZxV2k943J2PPJ31VlOvaJLzQ2Csk0fYH0Wkmo/3t/jJEro="}
//
// (one line; TestSealVector reproduces it).
//
// # Reserved event types and timestamp bounds
//
// Event types in the ledger's own namespaces (ReservedNamespaces: audit.,
// admin., privacy., retention., ledger.) are written only by the ledger,
// through PrepareOwn; Prepare refuses a client's (ErrReserved). Prepare
// also refuses a client's own timestamp more than Limits.MaxFutureSkew
// after the Pipeline's clock or more than Limits.MaxAge before it.
package event
