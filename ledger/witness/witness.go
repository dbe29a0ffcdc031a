// Package witness is the core of a C2SP tlog-witness: it cosigns a log's
// checkpoint only if it is signed by the log and is an append-only extension
// of the last checkpoint it cosigned for that log, and it persists the new
// checkpoint before it answers.
package witness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/tiles"
)

// Sentinel errors; Handler maps each to its tlog-witness status code.
var (
	// ErrBadRequest: the request is unreadable, its checkpoint is malformed,
	// or its old size is greater than the checkpoint's size (400). A body
	// that is not an add-checkpoint request is tiles.ErrMalformedAddCheckpoint,
	// answered with 400 too.
	ErrBadRequest = errors.New("bad request")
	// ErrUnknownLog: the checkpoint's origin is not a configured log (404).
	ErrUnknownLog = errors.New("unknown log")
	// ErrUntrusted: no trusted log signature verifies (403).
	ErrUntrusted = errors.New("checkpoint is not signed by the log")
	// ErrInconsistent: the consistency proof does not verify (422).
	ErrInconsistent = errors.New("checkpoint is not consistent with the one cosigned before")
)

// ConflictError is returned when the request's old size is not the size this
// witness last cosigned for the log (409, with that size in the body), or
// when the sizes match but the roots differ.
type ConflictError struct {
	Size         uint64 // the size this witness last cosigned
	RootMismatch bool   // same size, different root: a fork
}

// Error says which size the witness has, or that the roots differ.
func (e *ConflictError) Error() string {
	if e.RootMismatch {
		return fmt.Sprintf("checkpoint has the cosigned size %d but a different root hash", e.Size)
	}
	return fmt.Sprintf("the last cosigned size is %d", e.Size)
}

// Store persists the latest cosigned checkpoint of each log.
type Store interface {
	// Update is one atomic read-modify-write of origin's value: it reads the
	// stored value (nil if none), calls f with it and stores what f returns.
	// Updates of one origin are serialised, so no other update of origin
	// happens between the read and the write: a check made by f and the write
	// are one compare-and-swap. If f fails nothing is stored and f's error is
	// returned (wrapped). When Update returns nil the new value is durable:
	// it survives a crash or power loss. A canceled ctx stops Update before
	// it calls f. f may be called more than once if the store retries after
	// losing a race; only the call whose result is stored counts.
	Update(ctx context.Context, origin string, f func(old []byte) ([]byte, error)) error
	// Get returns the stored value of origin, or nil if none.
	Get(ctx context.Context, origin string) ([]byte, error)
}

// Log is a log the witness cosigns for.
type Log struct {
	Origin   string        // the first line of its checkpoints
	Verifier note.Verifier // its checkpoint key, named Origin
}

// Config configures a Witness.
type Config struct {
	// Signer makes the cosignatures. Required.
	Signer *tiles.CosignatureSigner
	// Logs are the logs this witness serves. Required.
	Logs []Log
	// Store persists cosigned checkpoints. Required.
	Store Store
	// Logger receives a record of every refusal; default slog.Default().
	Logger *slog.Logger
}

// Witness cosigns checkpoints.
type Witness struct {
	signer *tiles.CosignatureSigner
	logs   map[string]note.Verifier
	byHash map[string]string // hex SHA-256 of an origin → the origin
	store  Store
	log    *slog.Logger
}

// New validates cfg and returns a Witness.
func New(cfg Config) (*Witness, error) {
	if cfg.Signer == nil || cfg.Store == nil || len(cfg.Logs) == 0 {
		return nil, errors.New("witness: Config.Signer, Config.Store and at least one log are required")
	}
	w := &Witness{signer: cfg.Signer, logs: map[string]note.Verifier{}, byHash: map[string]string{},
		store: cfg.Store, log: cfg.Logger}
	if w.log == nil {
		w.log = slog.Default()
	}
	for _, l := range cfg.Logs {
		if l.Verifier == nil || l.Verifier.Name() != l.Origin {
			return nil, fmt.Errorf("witness: log %q needs a verifier named after its origin", l.Origin)
		}
		if _, dup := w.logs[l.Origin]; dup {
			return nil, fmt.Errorf("witness: log %q configured twice", l.Origin)
		}
		w.logs[l.Origin] = l.Verifier
		w.byHash[OriginHash(l.Origin)] = l.Origin
	}
	return w, nil
}

// OriginHash returns the lowercase hex SHA-256 of origin, which names the
// log in the monitoring path /<hash>/checkpoint.
func OriginHash(origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(sum[:])
}

// Update handles one add-checkpoint request and returns the cosignature
// line(s) to send back. Every refusal is logged with the submitted
// checkpoint and the one cosigned before.
func (w *Witness) Update(ctx context.Context, req *tiles.AddCheckpointRequest) ([]byte, error) {
	text, _, _ := bytes.Cut(req.Checkpoint, []byte("\n"))
	origin := string(text)
	// SPEC: If the origin is unknown, the witness MUST respond with a 404 Not Found.
	v, ok := w.logs[origin]
	if !ok {
		return nil, w.refuse(ctx, req, nil, fmt.Errorf("%w: %q", ErrUnknownLog, origin))
	}
	// SPEC: If none of the signatures verify against a trusted public key,
	// the witness MUST respond with a 403 Forbidden.
	sc, _, err := tiles.OpenCheckpoint(req.Checkpoint, v)
	switch {
	case errors.Is(err, tiles.ErrMalformedCheckpoint) && strings.Contains(err.Error(), "size 0 with a root hash"):
		// SPEC (HEAD): a checkpoint of size 0 must carry the empty root (422).
		return nil, w.refuse(ctx, req, nil, fmt.Errorf("%w: a tree of size 0 must have the empty root", ErrInconsistent))
	case errors.Is(err, tiles.ErrMalformedCheckpoint):
		return nil, w.refuse(ctx, req, nil, fmt.Errorf("%w: %w", ErrBadRequest, err))
	case err != nil:
		return nil, w.refuse(ctx, req, nil, fmt.Errorf("%w: %w", ErrUntrusted, err))
	}
	// SPEC: If the old size is greater than the checkpoint size, the witness
	// MUST respond with a 400 Bad Request.
	if req.OldSize > sc.Size {
		return nil, w.refuse(ctx, req, nil, fmt.Errorf("%w: old size %d is greater than the checkpoint size %d", ErrBadRequest, req.OldSize, sc.Size))
	}
	var cosigned, stored []byte
	err = w.store.Update(ctx, origin, func(old []byte) ([]byte, error) {
		stored = old
		prev, err := previous(old)
		if err != nil {
			return nil, err
		}
		if err := checkExtends(prev, req, sc.Checkpoint); err != nil {
			return nil, err
		}
		cosigned, err = note.Sign(&note.Note{Text: string(sc.Text)}, w.signer)
		if err != nil {
			return nil, fmt.Errorf("couldn't cosign: %w", err)
		}
		// Store the checkpoint with the log's signature and ours, so the
		// monitoring endpoint can serve it as is.
		return append(bytes.Clone(req.Checkpoint), cosignatureLines(cosigned)...), nil
	})
	var conflict *ConflictError
	switch {
	case errors.As(err, &conflict) || errors.Is(err, ErrInconsistent):
		return nil, w.refuse(ctx, req, stored, err)
	case err != nil:
		return nil, fmt.Errorf("couldn't update the state of %q: %w", origin, err)
	}
	// At this point the new checkpoint is durable: answering is safe.
	return cosignatureLines(cosigned), nil
}

// previous parses the stored checkpoint; nil means none (size 0).
func previous(stored []byte) (tiles.Checkpoint, error) {
	if stored == nil {
		return tiles.Checkpoint{Hash: tiles.EmptyRoot}, nil
	}
	i := bytes.Index(stored, []byte("\n\n"))
	if i < 0 {
		return tiles.Checkpoint{}, errors.New("stored checkpoint is corrupt: no signatures")
	}
	cp, err := tiles.ParseCheckpoint(stored[:i+1])
	if err != nil {
		return tiles.Checkpoint{}, fmt.Errorf("stored checkpoint is corrupt: %w", err)
	}
	return cp, nil
}

// checkExtends implements the consistency rules of add-checkpoint.
func checkExtends(prev tiles.Checkpoint, req *tiles.AddCheckpointRequest, cp tiles.Checkpoint) error {
	// SPEC: If the old size doesn't match the size of the latest checkpoint
	// the witness cosigned for the log, the witness MUST respond with a 409
	// Conflict, and include the latest size in the body.
	if req.OldSize != prev.Size {
		return &ConflictError{Size: prev.Size}
	}
	// SPEC: If the old size is zero, the proof MUST be empty.
	if req.OldSize == 0 && len(req.Proof) > 0 {
		return fmt.Errorf("%w: a proof from size 0 must be empty", ErrInconsistent)
	}
	// SPEC (v1.0.0): same size but a different root hash is a 409 Conflict.
	if req.OldSize == cp.Size && prev.Hash != cp.Hash {
		return &ConflictError{Size: prev.Size, RootMismatch: true}
	}
	// SPEC: the consistency proof MUST be verified per RFC 6962, Section
	// 2.1.2; if it fails, respond with a 422 Unprocessable Entity.
	if err := tiles.VerifyConsistency(prev.Size, prev.Hash, cp.Size, cp.Hash, req.Proof); err != nil {
		return fmt.Errorf("%w: %w", ErrInconsistent, err)
	}
	return nil
}

// cosignatureLines extracts the signature lines of the witness's signer
// from a note it signed: what add-checkpoint responds with.
func cosignatureLines(signed []byte) []byte {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	return signed[i+2:]
}

// refuse logs a refused request with the submitted checkpoint and the one
// this witness cosigned before for the same origin (stored; read from the
// store if nil): a validly signed checkpoint that is inconsistent with the
// cosigned one is evidence that the log forked. Refusals that a client
// causes in the normal course of things (a stale old size, a log the witness
// does not know, a malformed request) are logged at info level, the others
// at warn level.
func (w *Witness) refuse(ctx context.Context, req *tiles.AddCheckpointRequest, stored []byte, err error) error {
	text, _, _ := bytes.Cut(req.Checkpoint, []byte("\n"))
	origin := string(text)
	level := slog.LevelWarn
	var conflict *ConflictError
	switch {
	case errors.As(err, &conflict) && !conflict.RootMismatch,
		errors.Is(err, ErrUnknownLog),
		errors.Is(err, ErrBadRequest) && errors.Is(err, tiles.ErrMalformedCheckpoint):
		level = slog.LevelInfo
	}
	if _, known := w.logs[origin]; known && stored == nil {
		var gerr error
		if stored, gerr = w.store.Get(ctx, origin); gerr != nil {
			w.log.ErrorContext(ctx, "couldn't read the cosigned checkpoint", "origin", origin, "err", gerr)
		}
	}
	w.log.Log(ctx, level, "refused checkpoint", "origin", origin, "old_size", req.OldSize,
		"checkpoint", string(req.Checkpoint), "cosigned", string(stored), "err", err.Error())
	return err
}

// Latest returns the latest checkpoint cosigned for origin (log signature and
// cosignature), or nil.
func (w *Witness) Latest(ctx context.Context, origin string) ([]byte, error) {
	return w.store.Get(ctx, origin)
}

// LatestByHash is Latest for the log whose origin hashes to hexHash (see
// OriginHash); nil if the log is unknown or nothing was cosigned for it.
func (w *Witness) LatestByHash(ctx context.Context, hexHash string) ([]byte, error) {
	origin, ok := w.byHash[strings.ToLower(hexHash)]
	if !ok {
		return nil, nil
	}
	return w.store.Get(ctx, origin)
}
