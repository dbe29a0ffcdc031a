package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/tiles"
)

// appendResult is one entry of the POST /v1/events response.
type appendResult struct {
	Index    uint64 `json:"index"`
	ID       string `json:"id"`
	LeafHash string `json:"leaf_hash"`
	// Leaf is the leaf appended, which only the ledger can compute (it
	// holds the receive time and the submitter): for wait=published and
	// wait=cosigned, not for a duplicate, whose leaf is the original's.
	Leaf      []byte `json:"leaf,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	// Proof is the receipt's c2sp.org/tlog-proof@v1 against the first
	// published checkpoint that covered the event, with its cosignatures:
	// for wait=published and wait=cosigned, not for a duplicate.
	Proof string `json:"proof,omitempty"`
}

// waitLevels are the values of POST /v1/events?wait=.
var waitLevels = []string{"durable", "published", "cosigned"}

// appendEvents takes one event, a JSON array or NDJSON. The event pipeline
// prepares every event before anything is queued; the batch is atomic. The
// response waits for the level asked in ?wait=.
func (s *Server) appendEvents(w http.ResponseWriter, r *http.Request) {
	p := newParams(r.URL.Query(), "wait")
	wait := p.enum("wait", waitLevels)
	if err := p.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if configured, _ := s.cfg.Ledger.Quorum(); wait == "cosigned" && !configured {
		s.writeError(w, r, fmt.Errorf("%w: wait=cosigned needs witnesses, and this ledger has no witness policy", errBadRequest))
		return
	}
	size := s.cfg.MaxBodyBytes
	if r.ContentLength >= 0 && r.ContentLength < size {
		size = r.ContentLength
	}
	br := &budgetReader{r: http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), sem: s.bodies, size: size}
	defer br.release()
	body, err := io.ReadAll(br)
	var tooLarge *http.MaxBytesError
	if errors.Is(err, errBodyBudget) {
		s.writeError(w, r, err)
		return
	}
	if errors.As(err, &tooLarge) {
		s.writeError(w, r, fmt.Errorf("%w: the limit is %d bytes", errTooLarge, s.cfg.MaxBodyBytes))
		return
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("%w: couldn't read body: %v", errBadRequest, err))
		return
	}
	caller := CallerOf(r)
	batch, err := s.events.Prepare(event.Submission{Body: body, ContentType: r.Header.Get("Content-Type"),
		Tenant: writerTenant(caller), Submitter: submitterOf(caller)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	results, err := s.cfg.Ledger.Append(r.Context(), ledgerEntries(batch.Entries))
	br.release() // the entries are committed: what waits now is small
	if kc := (*ledger.KeyConflictError)(nil); errors.As(err, &kc) {
		err = fmt.Errorf("event id %q: %w; nothing was appended", batch.Entries[kc.Entry].ID, err)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Receipts (wait=published|cosigned) carry each event's leaf and
	// proof; a durable answer only its index and leaf hash, so that it
	// stays small next to its batch.
	receipts := wait == "published" || wait == "cosigned"
	var waitErr error
	if receipts {
		var last uint64
		for _, res := range results {
			last = max(last, res.Index)
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WaitTimeout)
		defer cancel()
		waitFor := s.cfg.Ledger.WaitPublished
		if wait == "cosigned" {
			waitFor = s.cfg.Ledger.WaitCosigned
		}
		waitErr = waitFor(ctx, last+1)
	}
	out := make([]appendResult, len(results))
	for i, res := range results {
		out[i] = appendResult{Index: res.Index, ID: batch.Entries[i].ID, LeafHash: base64.StdEncoding.EncodeToString(res.LeafHash[:]), Duplicate: res.Duplicate}
		if receipts && !res.Duplicate {
			out[i].Leaf = batch.Entries[i].Leaf
		}
	}
	if waitErr != nil {
		s.notYet(w, r, wait, waitErr, out)
		return
	}
	if receipts {
		if err := s.prove(r.Context(), out); err != nil {
			s.writeError(w, r, fmt.Errorf("events are durable and %s, but %w", wait, err))
			return
		}
	}
	if batch.Single {
		writeJSON(w, http.StatusOK, out[0])
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// notYetBody is the answer to an append whose events are durable but did
// not reach the wait level asked in time: an error body with their
// receipts.
type notYetBody struct {
	errorBody
	// Status is "durable, not yet published" or "durable, not yet
	// cosigned".
	Status string `json:"status"`
	// Results are the receipts of the events, as a full answer has them
	// (always a list, even for one event).
	Results []appendResult `json:"results"`
}

// notYet answers an append whose events are durable, with their receipts,
// when waiting for the level wait failed with err: 503 with Retry-After
// when the wait timed out (a retry with the same ids appends nothing again
// and answers duplicates), the status of err otherwise.
func (s *Server) notYet(w http.ResponseWriter, r *http.Request, wait string, err error, results []appendResult) {
	err = fmt.Errorf("events are durable but not yet %s: %w", wait, err)
	if !errors.Is(err, context.DeadlineExceeded) || r.Context().Err() != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Warn("append answered before its wait level", "request_id", requestIDOf(r), "wait", wait, "events", len(results), "err", err)
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, notYetBody{
		errorBody: errorBody{Error: err.Error(), RequestID: requestIDOf(r)},
		Status:    "durable, not yet " + wait, Results: results,
	})
}

// prepare turns events the server writes itself into entries (see
// event.Pipeline.PrepareOwn).
func (s *Server) prepare(events []*event.Event) ([]ledger.Entry, error) {
	entries, err := s.events.PrepareOwn(events...)
	if err != nil {
		return nil, err
	}
	return ledgerEntries(entries), nil
}

// ledgerEntries returns what the ledger appends of prepared events.
func ledgerEntries(prepared []event.Entry) []ledger.Entry {
	entries := make([]ledger.Entry, len(prepared))
	for i, e := range prepared {
		entries[i] = ledger.Entry{Key: e.Key, Leaf: e.Leaf, Fresh: e.Fresh, Same: e.Same}
	}
	return entries
}

// getEvent returns a committed event with its exact leaf bytes; with
// event_key=true, and its sealed members opened, their event key too.
func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	index, err := parseIndex(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size := s.cfg.Ledger.Committed().Size
	if index >= size {
		// Another instance sharing the storage may have it.
		_, size = s.cfg.Ledger.PublishedCovering(r.Context(), index+1)
	}
	leaf, err := s.entry(r.Context(), index, size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ev, err := event.ParseLeaf(leaf)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("stored leaf %d is not an event: %w", index, err))
		return
	}
	p := newParams(r.URL.Query(), "event_key")
	u := s.unsealer(r.Context())
	u.eventKeys = p.boolean("event_key")
	if err := p.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.mayRead(w, r, leaf) || !s.logEntryRead(w, r, index) {
		return
	}
	shown, err := u.show(ev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	answer := map[string]any{"index": index, "event": shown, "leaf": leaf}
	if shown.eventKey != nil {
		answer["event_key"] = shown.eventKey
	}
	writeJSON(w, http.StatusOK, answer)
}

// entry reads the leaf at index from the tree of size entries.
func (s *Server) entry(ctx context.Context, index, size uint64) ([]byte, error) {
	bt, ok := tiles.BundleFor(index/tiles.TileWidth, size)
	if !ok || index >= size {
		return nil, fmt.Errorf("%w: no entry %d in a log of size %d", errNotFound, index, size)
	}
	entries, err := tiles.ReadEntryBundle(ctx, s.cfg.Tiles, bt)
	if err != nil {
		return nil, err
	}
	return entries[index%tiles.TileWidth], nil
}

// logEntryRead logs the read of one entry (its event or its proof, which
// carries the leaf), answering the error and returning false if it can't.
func (s *Server) logEntryRead(w http.ResponseWriter, r *http.Request, index uint64) bool {
	one := 1
	err := s.recordAccess(r, accessRecord{action: "read", resourceType: "audit_event", resourceID: strconv.FormatUint(index, 10), count: &one})
	if err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

// proofAt are the values of GET /v1/proof/{index}?at=: the checkpoint the
// proof is against.
var proofAt = []string{"first", "latest"}

// getProof returns a c2sp.org/tlog-proof@v1 for an entry, carrying the
// entry's leaf bytes as its extra data so that `verifier proof FILE` needs
// nothing else: against the published checkpoint, or with ?at=first against
// the first published checkpoint that covered the entry, with the
// cosignatures it had (the tightest bound on when the entry existed).
func (s *Server) getProof(w http.ResponseWriter, r *http.Request) {
	p := newParams(r.URL.Query(), "at")
	at := p.enum("at", proofAt)
	index, err := parseIndex(r)
	if err == nil {
		err = p.err()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cp, size := s.cfg.Ledger.PublishedCovering(r.Context(), index+1)
	if at == "first" {
		if cp, size, err = s.firstCovering(r.Context(), index); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	leaf, err := s.entry(r.Context(), index, size)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("%w (entries are provable once published)", err))
		return
	}
	if !s.mayRead(w, r, leaf) || !s.logEntryRead(w, r, index) {
		return
	}
	hashes, err := tiles.InclusionProof(r.Context(), tiles.HashTiles(s.cfg.Tiles), index, size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	proof := &tiles.Proof{Extra: leaf, Index: index, Hashes: hashes, Checkpoint: cp}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(proof.Marshal())
}

// firstCovering returns the first published checkpoint that covers index
// and its size.
func (s *Server) firstCovering(ctx context.Context, index uint64) ([]byte, uint64, error) {
	cp, size, err := s.cfg.Ledger.FirstCovering(ctx, index)
	switch {
	case errors.Is(err, tiles.ErrNotFound):
		return nil, 0, fmt.Errorf("%w: no published checkpoint covers entry %d yet (entries are provable once published)", errNotFound, index)
	case errors.Is(err, ledger.ErrNoHistory):
		return nil, 0, fmt.Errorf("%w: %v; ask for the proof against the latest checkpoint (without at=first)", errNotFound, err)
	}
	return cp, size, err
}

// prove sets the Proof of each result that carries its leaf, against the
// first published checkpoint that covered it. With a storage that keeps no
// checkpoint history the results go without.
func (s *Server) prove(ctx context.Context, results []appendResult) error {
	proofs := &proofTiles{r: tiles.HashTiles(s.cfg.Tiles), cache: map[tiles.Tile][]tiles.Hash{}}
	var cp []byte
	var size uint64 // of cp, which covers the results below it
	for i := range results {
		res := &results[i]
		if res.Leaf == nil {
			continue
		}
		if cp == nil || res.Index >= size {
			var err error
			if cp, size, err = s.cfg.Ledger.FirstCovering(ctx, res.Index); errors.Is(err, ledger.ErrNoHistory) {
				return nil
			} else if err != nil {
				return fmt.Errorf("couldn't find the first checkpoint of entry %d: %w", res.Index, err)
			}
		}
		proof, err := proofs.prove(ctx, index.Row{Index: res.Index, Leaf: res.Leaf}, cp, size)
		if err != nil {
			return err
		}
		res.Proof = proof
	}
	return nil
}
