// Package witness is the core of a C2SP tlog-witness: it cosigns a log's
// checkpoint only if it is signed by the log and is an append-only extension
// of the last checkpoint it cosigned for that log, and it persists the new
// checkpoint before it answers.
package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/tiles"
)

// Sentinel errors; Handler maps each to its tlog-witness status code.
var (
	// ErrBadRequest: the request is malformed, or old size > checkpoint size (400).
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

func (e *ConflictError) Error() string {
	if e.RootMismatch {
		return fmt.Sprintf("checkpoint has the cosigned size %d but a different root hash", e.Size)
	}
	return fmt.Sprintf("the last cosigned size is %d", e.Size)
}

// Store persists the latest cosigned checkpoint of each log.
type Store interface {
	// Update atomically reads the stored checkpoint of origin (nil if none)
	// and replaces it with what f returns. If f fails, nothing changes and
	// its error is returned. The replacement is durable when Update returns.
	// Updates of one origin are serialised, so the check inside f and the
	// write are one compare-and-swap.
	Update(ctx context.Context, origin string, f func(old []byte) ([]byte, error)) error
	// Get returns the stored checkpoint of origin, or nil if none.
	Get(ctx context.Context, origin string) ([]byte, error)
}

// Log is a log the witness cosigns for.
type Log struct {
	Origin   string
	Verifier note.Verifier
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
	store  Store
	log    *slog.Logger
}

// New validates cfg and returns a Witness.
func New(cfg Config) (*Witness, error) {
	if cfg.Signer == nil || cfg.Store == nil || len(cfg.Logs) == 0 {
		return nil, errors.New("witness: Config.Signer, Config.Store and at least one log are required")
	}
	w := &Witness{signer: cfg.Signer, logs: map[string]note.Verifier{}, store: cfg.Store, log: cfg.Logger}
	if w.log == nil {
		w.log = slog.Default()
	}
	for _, l := range cfg.Logs {
		if _, dup := w.logs[l.Origin]; dup {
			return nil, fmt.Errorf("witness: log %q configured twice", l.Origin)
		}
		w.logs[l.Origin] = l.Verifier
	}
	return w, nil
}

// Update handles one add-checkpoint request and returns the cosignature
// line(s) to send back.
func (w *Witness) Update(ctx context.Context, req *Request) ([]byte, error) {
	text, _, _ := bytes.Cut(req.Checkpoint, []byte("\n"))
	origin := string(text)
	// SPEC: If the origin is unknown, the witness MUST respond with a 404 Not Found.
	v, ok := w.logs[origin]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownLog, origin)
	}
	// SPEC: If none of the signatures verify against a trusted public key,
	// the witness MUST respond with a 403 Forbidden.
	sc, _, err := tiles.OpenCheckpoint(req.Checkpoint, v)
	switch {
	case errors.Is(err, tiles.ErrMalformedCheckpoint) && strings.Contains(err.Error(), "size 0 with a root hash"):
		return nil, w.refuse(origin, req, fmt.Errorf("%w: a tree of size 0 must have the empty root", ErrInconsistent))
	case errors.Is(err, tiles.ErrMalformedCheckpoint):
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	case err != nil:
		return nil, w.refuse(origin, req, fmt.Errorf("%w: %v", ErrUntrusted, err))
	}
	// SPEC: If the old size is greater than the checkpoint size, the witness
	// MUST respond with a 400 Bad Request.
	if req.OldSize > sc.Size {
		return nil, fmt.Errorf("%w: old size %d is greater than the checkpoint size %d", ErrBadRequest, req.OldSize, sc.Size)
	}
	var cosigned []byte
	err = w.store.Update(ctx, origin, func(old []byte) ([]byte, error) {
		prev, err := w.previous(old)
		if err != nil {
			return nil, err
		}
		if err := checkExtends(prev, req, sc.Checkpoint); err != nil {
			return nil, err
		}
		cosigned, err = note.Sign(&note.Note{Text: string(sc.Text)}, w.signer)
		if err != nil {
			return nil, err
		}
		// Store the checkpoint with the log's signature and ours, so the
		// monitoring endpoint can serve it as is.
		return append(bytes.Clone(req.Checkpoint), cosignatureLines(cosigned)...), nil
	})
	if err != nil {
		var conflict *ConflictError
		if errors.As(err, &conflict) || errors.Is(err, ErrInconsistent) {
			return nil, w.refuse(origin, req, err)
		}
		return nil, err
	}
	return cosignatureLines(cosigned), nil
}

// previous parses the stored checkpoint; nil means none (size 0).
func (w *Witness) previous(stored []byte) (tiles.Checkpoint, error) {
	if stored == nil {
		return tiles.Checkpoint{Hash: tiles.EmptyRoot}, nil
	}
	i := bytes.Index(stored, []byte("\n\n"))
	if i < 0 {
		return tiles.Checkpoint{}, errors.New("stored checkpoint is corrupt")
	}
	return tiles.ParseCheckpoint(stored[:i+1])
}

// checkExtends implements the consistency rules of add-checkpoint.
func checkExtends(prev tiles.Checkpoint, req *Request, cp tiles.Checkpoint) error {
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
		return fmt.Errorf("%w: %v", ErrInconsistent, err)
	}
	return nil
}

// cosignatureLines extracts the signature lines of the witness's signer
// from a note it signed: what add-checkpoint responds with.
func cosignatureLines(signed []byte) []byte {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	return signed[i+2:]
}

// refuse logs a refused request with the offending checkpoint: a validly
// signed checkpoint that is inconsistent is evidence of a misbehaving log.
// A stale old size is routine (a log learning the witness's size) and is
// logged at info level.
func (w *Witness) refuse(origin string, req *Request, err error) error {
	level := slog.LevelWarn
	var conflict *ConflictError
	if errors.As(err, &conflict) && !conflict.RootMismatch {
		level = slog.LevelInfo
	}
	w.log.Log(context.Background(), level, "refused checkpoint", "origin", origin, "old_size", req.OldSize,
		"checkpoint", string(req.Checkpoint), "err", err)
	return err
}

// Latest returns the latest checkpoint cosigned for origin (log signature and
// cosignature), or nil.
func (w *Witness) Latest(ctx context.Context, origin string) ([]byte, error) {
	return w.store.Get(ctx, origin)
}
