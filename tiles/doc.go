// Package tiles implements the C2SP transparency-log formats that a third party
// reads: tlog-tiles paths and codecs, tlog-checkpoint in a signed note,
// tlog-cosignature (cosignature/v1), tlog-policy trust policies, tlog-proof
// files, Merkle proofs built from tiles, and a verifying client that reads a
// log from a directory or a URL and authenticates every byte it uses. A
// pruned log (its minimum index, the Pruned document, the PrunedError of a
// refused bundle) is audited by AuditLog from its hash tiles and the entries
// that remain.
//
// The package is pure apart from the fetchers, and imports nothing else from
// this module, so auditors can vendor it to check a log independently of the
// server that wrote it.
//
// Sizes and indexes are uint64 throughout. Tree hashing is RFC 6962 with
// SHA-256: a leaf hash is SHA-256(0x00 || entry) and an interior node is
// SHA-256(0x01 || left || right).
package tiles
