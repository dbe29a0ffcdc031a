package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Format names this layout of a package in its manifest: the format of a
// package whose rows carry no event key.
const Format = "ledger-export/v1"

// FormatKeys is Format with rows that may carry an event key (Row.EventKey)
// and show their sealed members opened. A writer names it only when a row
// does, so that a checker that knows only Format refuses such a package
// rather than pass members it cannot check.
const FormatKeys = "ledger-export/v2"

// The files of a package.
const (
	manifestFile   = "manifest.json"
	checkpointFile = "checkpoint"
	eventsFile     = "events.ndjson"
	proofsDir      = "proofs"
)

// Manifest is manifest.json: what a package holds.
type Manifest struct {
	// Format is [Format] or [FormatKeys].
	Format string `json:"format"`
	// Origin, TreeSize and RootHash (base64) are the checkpoint's.
	Origin   string `json:"origin"`
	TreeSize uint64 `json:"tree_size"`
	RootHash string `json:"root_hash"`
	// Created is when the package was written.
	Created time.Time `json:"created"`
	// Count is how many rows events.ndjson holds.
	Count int `json:"count"`
	// Filters are the query parameters of a filtered export.
	Filters map[string]string `json:"filters,omitempty"`
	// Range, for a range export, says that every entry from From to To-1
	// is in the package.
	Range *Range `json:"range,omitempty"`
}

// Range is the span of indexes a range export holds: From ≤ i < To.
type Range struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// parseManifest strictly decodes manifest.json.
func parseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := decodeStrict(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestFile, err)
	}
	if m.Format != Format && m.Format != FormatKeys {
		return nil, fmt.Errorf("%s: format %q, want %q or %q", manifestFile, m.Format, Format, FormatKeys)
	}
	if m.Range != nil && (m.Range.To <= m.Range.From || m.Range.To > m.TreeSize) {
		return nil, fmt.Errorf("%s: range [%d, %d) is empty or beyond the tree size %d", manifestFile, m.Range.From, m.Range.To, m.TreeSize)
	}
	return &m, nil
}

// decodeStrict decodes one JSON value from data, refusing unknown members
// and anything after the value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}
