package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/mirror"
	"github.com/ledger-dev/ledger/tiles"
)

// RecordName is the archive's object that records its last verified run.
// Run writes it last, once the copy has been read back and verified, so it
// never names a size the archive does not hold.
const RecordName = "archived.json"

// Record says what a run archived and where: the archive holds the log's
// entries [0, To), verified against the signed checkpoint Checkpoint.
type Record struct {
	// From is the size the archive had been verified at before the run,
	// To the size of the checkpoint it archived and verified; the run
	// re-hashed the entries [From, To) read back from the archive.
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	// Location is the archive's URL: file:///path or s3://bucket/prefix.
	Location string `json:"location"`
	// CheckpointSHA256 is the SHA-256 (hex) of Checkpoint.
	CheckpointSHA256 string `json:"checkpoint_sha256"`
	// ArchivedAt is when the run finished verifying the archive.
	ArchivedAt time.Time `json:"archived_at"`
	// RetainUntil is the date the objects the run wrote are locked until
	// (S3 Object Lock, compliance mode); zero when they are not locked.
	RetainUntil time.Time `json:"retain_until,omitzero"`
	// Checkpoint is the archived signed checkpoint note, as the log
	// published it (cosignatures included).
	Checkpoint string `json:"checkpoint"`
}

// checkpointSHA256 returns the hex SHA-256 of a checkpoint note.
func checkpointSHA256(note []byte) string {
	sum := sha256.Sum256(note)
	return hex.EncodeToString(sum[:])
}

// Reach returns the checkpoint up to which target holds a verified
// archive of the log: the checkpoint of its last Run's Record (see Last).
// Before the first Run has finished, the error wraps tiles.ErrNotFound.
//
// Pruning may remove entries below the size Reach returns (rounded down to
// a whole bundle): every entry there was copied and then read back and
// re-hashed by a Run.
func Reach(ctx context.Context, target blob.Store, policy *tiles.Policy) (tiles.Checkpoint, error) {
	_, cp, err := Last(ctx, target, policy)
	return cp, err
}

// Locate returns where target's verified archive is and how far it
// reaches, as a pruned log's Pruned document points to it: the Record's
// location, its size, and when it was verified. The error is Last's.
func Locate(ctx context.Context, target blob.Store, policy *tiles.Policy) (tiles.Archive, error) {
	rec, cp, err := Last(ctx, target, policy)
	if err != nil {
		return tiles.Archive{}, err
	}
	return tiles.Archive{Location: rec.Location, Size: cp.Size, ArchivedAt: rec.ArchivedAt}, nil
}

// Last returns the Record of the last Run that finished on target and its
// checkpoint, verified with policy, once it has checked that the archive
// still serves that checkpoint's right edge (its last entry bundle and
// partial tiles, authenticated against the root). Before the first Run has
// finished, the error wraps tiles.ErrNotFound.
func Last(ctx context.Context, target blob.Store, policy *tiles.Policy) (Record, tiles.Checkpoint, error) {
	rec, sc, err := readRecord(ctx, target, policy)
	if err != nil {
		return Record{}, tiles.Checkpoint{}, err
	}
	if rec.To > 0 {
		tree := tiles.NewTree(mirror.Fetcher(target), sc.Checkpoint)
		if _, err := tree.Bundle(ctx, tiles.BundleCount(rec.To)-1); err != nil {
			return Record{}, tiles.Checkpoint{}, fmt.Errorf("the archive does not hold the log its record names at size %d: %w", rec.To, err)
		}
	}
	return rec, sc.Checkpoint, nil
}

// readRecord reads the archive's Record and verifies its checkpoint with
// policy.
func readRecord(ctx context.Context, target blob.Store, policy *tiles.Policy) (Record, *tiles.SignedCheckpoint, error) {
	var rec Record
	b, err := target.Get(ctx, RecordName)
	if errors.Is(err, blob.ErrNotExist) {
		return rec, nil, fmt.Errorf("nothing is archived yet (no %s): %w", RecordName, tiles.ErrNotFound)
	}
	if err != nil {
		return rec, nil, fmt.Errorf("couldn't read the archive's %s: %w", RecordName, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, nil, fmt.Errorf("the archive's %s: %w", RecordName, err)
	}
	sc, err := policy.Verify([]byte(rec.Checkpoint))
	if err != nil {
		return rec, nil, fmt.Errorf("the archive's %s holds a checkpoint the log's policy does not verify (is it another log's?): %w", RecordName, err)
	}
	if sc.Size != rec.To || checkpointSHA256([]byte(rec.Checkpoint)) != rec.CheckpointSHA256 || rec.From > rec.To {
		return rec, nil, fmt.Errorf("%w: the archive's %s does not agree with its own checkpoint (size %d, to %d)", tiles.ErrTampered, RecordName, sc.Size, rec.To)
	}
	return rec, sc, nil
}
