package event

import _ "embed"

// JSONSchema is the JSON Schema (draft 2020-12) of an event as a client
// submits it: the fields, their types, patterns and enumerations that
// Pipeline.Prepare checks. It cannot count bytes, so the size limits are
// only in its descriptions; what it refuses, Prepare refuses too. The
// ledger's OpenAPI document embeds it.
//
//go:embed event.schema.json
var JSONSchema []byte
