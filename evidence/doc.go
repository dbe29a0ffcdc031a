// Package evidence reads and writes evidence packages: the events of a
// transparency log, each with the proof that it is in the log, and the
// signed checkpoint the proofs are against, in a directory that anyone can
// check with no network and no trust in the server that wrote it. This
// comment is the format's specification.
//
// # Format ledger-export/v1
//
// A package is a directory of four parts:
//
//	manifest.json                what the package holds; written last
//	checkpoint                   the signed checkpoint note, with its witness cosignatures
//	events.ndjson                one row per event, one JSON object per line
//	proofs/<index>.tlog-proof    a c2sp.org/tlog-proof@v1 per event
//
// A writer writes manifest.json last, once every other file is on disk: a
// directory without it is an unfinished package, not a package.
//
// manifest.json is one JSON object ([Manifest]):
//
//   - "format": "ledger-export/v1".
//   - "origin", "tree_size", "root_hash": the origin line, tree size and root
//     hash (base64) of the checkpoint; every proof is against this tree.
//   - "created": when the package was written, RFC 3339 in UTC.
//   - "count": how many rows events.ndjson holds.
//   - "filters": in a filtered export only, the query parameters that
//     selected the events (such as "actor_id", "since", "until").
//   - "range": in a range export only, {"from": F, "to": T}: the package
//     holds every entry with index F ≤ i < T, and no other; T ≤ tree_size.
//
// Each line of events.ndjson is a [Row]:
//
//   - "index": the entry's index in the log;
//   - "leaf_hash": the RFC 6962 leaf hash of the entry, base64;
//   - "leaf": the entry's bytes, base64: the only part the proof covers;
//   - "event": the event its leaf encodes, which is the leaf's JSON object
//     without its "v" member, or null for a leaf that is not an event.
//
// A row is one line of compact JSON with its members in this order, and
// "<", ">" and "&" in its strings written \u003c, \u003e and \u0026, as Go's
// encoding/json writes them; a checker compares values, not these bytes.
//
// In a package of format ledger-export/v1 a row has no other member. A
// package of format ledger-export/v2 is the same with one more, optional
// member after "event" (see Format ledger-export/v2 below).
//
// A row has no "proof" member in a package (that member is for query
// answers that carry their proof inline); the proof of the row at index i
// is proofs/i.tlog-proof, whose extra data is the leaf, whose index is i,
// and whose checkpoint is byte for byte the package's checkpoint file.
//
// # Format ledger-export/v2: sealed members shown, with event keys
//
// A ledger seals some members of an event (leaf version 3: a "sealed"
// member {"kid", "nonce", "ct"} holding their AES-256-GCM ciphertext under
// a key derived for that one event from its data subject's key; the leaf
// format is in docs/formats.md of the ledger). A package may show such an
// event with its sealed members in clear. Its manifest then names
// "ledger-export/v2", and the row carries
//
//   - "event_key": the event key EK, base64 (32 bytes): the key that opens
//     this one event's sealed members. It is never the subject's key, from
//     which it is derived one way (HKDF-SHA256), and opens no other event.
//
// and its "event" is the leaf's object without "v" and "sealed", with the
// sealed members put back (a member of the top level, or a member of
// "actor" or "tags" within them) and "sealed": "open", as a ledger shows
// the event to a reader. A row without "event_key" is as in v1: its event
// is the leaf's own, sealed members sealed (an erased event, one the
// reader may not open, or one never sealed). A writer names v2 only when
// a row carries a key, so a checker that knows only v1 refuses the package
// instead of passing members it could not check; a v1 package's row with
// "event_key" fails.
//
// To check such a row, a checker opens "ct" with EK, the nonce and the
// associated data "ledger sealed v3" 0x00 tenant_id 0x00 id 0x00 kid (the
// leaf's tenant_id, empty when it has none, its id and the sealed member's
// kid), and compares the event shown, as JSON values, with the leaf's
// object thus opened. AES-GCM authenticates the ciphertext, so a changed
// byte of a member shown, or a key of another event, fails. What it proves
// is that these members are what the ledger encrypted into the leaf; AES-GCM
// is not key-committing, so a ledger that crafted a ciphertext to open
// under two keys when it wrote the leaf could show either plaintext later.
//
// # Checks
//
// [Package.Check] trusts nothing in the package but the checkpoint, which
// its caller has verified under a trust policy (a log key, or witnesses and
// a quorum). It checks that:
//
//  1. the manifest names one of these formats, and the checkpoint's
//     origin, size and root;
//  2. every row decodes strictly (no unknown members, no proof, nothing
//     after the object), its leaf hash is the hash of its leaf, and its
//     event is the leaf's own (compared as JSON values, numbers as written),
//     or, with an event key in a v2 package, the leaf's opened with it;
//  3. every row's proof is for its index, against the package's checkpoint,
//     carries its leaf (or no extra data), and proves the leaf's inclusion
//     at that index;
//  4. no index appears twice, and the manifest's count is the rows';
//  5. for a range export, the package holds exactly the indexes of the
//     range. An index has one leaf in a tree, so a range package that
//     passes holds every entry of its range, unchanged.
//
// A filtered package proves that each of its events is in the log, not
// that no other event matches its filters; a range package proves both.
//
// # Example
//
// A log of one entry, an event read by alice, exported whole
// (ledger export --from 0 --to 1) by a log whose key is example.com/log:
//
//	manifest.json:
//	{
//	  "format": "ledger-export/v1",
//	  "origin": "example.com/log",
//	  "tree_size": 1,
//	  "root_hash": "q/Gp2im9Uy5tFRJcE/AtYZVhBsHlDC4Iww6GE6MqqTU=",
//	  "created": "2026-11-02T10:00:00Z",
//	  "count": 1,
//	  "range": {
//	    "from": 0,
//	    "to": 1
//	  }
//	}
//
//	events.ndjson:
//	{"index":0,"leaf_hash":"q/Gp2im9Uy5tFRJcE/AtYZVhBsHlDC4Iww6GE6MqqTU=","leaf":"eyJ2IjoxLCJpZCI6ImUxIiwidGltZXN0YW1wIjoiMjAyNi0xMS0wMlQwOTowMDowMFoiLCJhY3Rpb24iOiJyZWFkIiwiYWN0b3IiOnsiaWQiOiJhbGljZSIsInR5cGUiOiJ1c2VyIn0sInJlc291cmNlIjp7InR5cGUiOiJkb2MifSwicmVzdWx0Ijoic3VjY2VzcyJ9","event":{"id":"e1","timestamp":"2026-11-02T09:00:00Z","action":"read","actor":{"id":"alice","type":"user"},"resource":{"type":"doc"},"result":"success"}}
//
// The leaf is {"v":1,"id":"e1",...}, the event with its version; the
// tree of one entry has the leaf hash as its root, so proofs/0.tlog-proof
// has no hashes:
//
//	c2sp.org/tlog-proof@v1
//	extra eyJ2IjoxLCJpZCI6ImUxIiwidGltZXN0YW1wIjoi...
//	index 0
//
//	example.com/log
//	1
//	q/Gp2im9Uy5tFRJcE/AtYZVhBsHlDC4Iww6GE6MqqTU=
//
//	— example.com/log <signature>
//
// The package's checkpoint file is the note after the blank line.
package evidence
