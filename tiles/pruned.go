package tiles

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// PrunedPath is where a pruned log serves its Pruned document, beside
// CheckpointPath. A log that has never been pruned may not serve it (its
// minimum index is 0).
const PrunedPath = "pruned.json"

// maxPrunedSize bounds the Pruned document a fetcher reads.
const maxPrunedSize = 64 << 10

// ErrPruned is wrapped by the error of a Fetcher asked for an entry bundle
// that the log has pruned: its entries are gone from the log (perhaps kept in
// an archive), while its hash tiles, and so every proof, remain.
var ErrPruned = errors.New("pruned")

// Pruned says how far a log has been pruned, as C2SP tlog-tiles defines it:
// entries below MinimumIndex may be refused. A log prunes whole entry
// bundles, so MinimumIndex is a multiple of 256, and the bundles it refuses
// are exactly those that end at or below it. The document is served at
// PrunedPath and is the body of the 410 answer to a pruned bundle; it is not
// signed, so a client treats it as a claim: it still checks every hash tile
// against the signed root, and the archive against the same log key.
type Pruned struct {
	// MinimumIndex is the first entry whose bundle the log still serves.
	MinimumIndex uint64 `json:"minimum_index"`
	// Archive, if set, is where the pruned entries were copied first.
	Archive *Archive `json:"archive,omitempty"`
}

// Archive locates the copy of a pruned range: a tlog-tiles log of the same
// origin and key, whose checkpoint covers at least the pruned entries.
type Archive struct {
	// Location is a URL: file:///path, s3://bucket/prefix or https://host/prefix.
	Location string `json:"location"`
	// Size is the size of the archive's checkpoint when the log last
	// recorded it (the archive covers entries [0, Size)).
	Size uint64 `json:"size"`
	// ArchivedAt is when that checkpoint was archived and verified there.
	ArchivedAt time.Time `json:"archived_at"`
}

// String says where and when: "LOCATION (size N, TIME)".
func (a *Archive) String() string {
	return fmt.Sprintf("%s (size %d, %s)", a.Location, a.Size, a.ArchivedAt.UTC().Format(time.RFC3339))
}

// Refuses reports whether a log pruned as p refuses tile t: an entry bundle
// that ends at or below the minimum index. Hash tiles are never refused.
func (p Pruned) Refuses(t Tile) bool {
	if !t.Entries {
		return false
	}
	return t.Index*TileWidth+uint64(t.Width) <= p.MinimumIndex
}

// ParsePruned parses a Pruned document, refusing a minimum index that is not
// a multiple of TileWidth.
func ParsePruned(data []byte) (Pruned, error) {
	var p Pruned
	if err := json.Unmarshal(data, &p); err != nil {
		return Pruned{}, fmt.Errorf("pruned document: %w", err)
	}
	if p.MinimumIndex%TileWidth != 0 {
		return Pruned{}, fmt.Errorf("pruned document: minimum index %d is not a multiple of %d", p.MinimumIndex, TileWidth)
	}
	if p.Archive != nil && p.Archive.Location == "" {
		return Pruned{}, errors.New("pruned document: archive without a location")
	}
	return p, nil
}

// PrunedError is the error of a Fetcher for a bundle the log refuses as
// pruned. It wraps ErrPruned.
type PrunedError struct {
	// Path is the bundle asked for.
	Path string
	// Pruned is the log's answer.
	Pruned Pruned
}

// Error says which bundle is pruned, the minimum index and the archive.
func (e *PrunedError) Error() string {
	msg := fmt.Sprintf("%s is pruned: the minimum index is %d", e.Path, e.Pruned.MinimumIndex)
	if a := e.Pruned.Archive; a != nil {
		msg += "; archived at " + a.String()
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrPruned) hold.
func (e *PrunedError) Unwrap() error { return ErrPruned }
