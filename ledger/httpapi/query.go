package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/ledger-dev/ledger/evidence"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/index"
	"github.com/ledger-dev/ledger/tiles"
)

// Index is the query index the query API, the reports and exports read:
// a backend of ledger/index (ledger/index/sqlite, ledger/index/postgres).
type Index interface {
	// Query returns one page of rows.
	Query(ctx context.Context, q index.Query) ([]index.Row, error)
	// Failures returns the actors over a threshold of failed attempts.
	Failures(ctx context.Context, q index.FailureQuery) ([]index.Failure, error)
}

// errNoIndex answers the query endpoints of a server without an index.
var errNoIndex = fmt.Errorf("%w: this ledger has no query index", errNotFound)

// eventRow renders an index row from its leaf bytes, the only part of
// the row that its proof covers, its sealed members opened by u. Its event
// is JSON without HTML escaping, like the rest of the API's answers; it is
// null for a leaf that is not an event.
func (u *unsealer) eventRow(r index.Row) (evidence.Row, error) {
	row := evidence.Row{Index: r.Index, LeafHash: r.LeafHash.String(), Leaf: r.Leaf}
	ev, err := event.ParseLeaf(r.Leaf)
	if err != nil {
		return row, nil // not an event: the row's event is null
	}
	shown, err := u.show(ev)
	if err != nil {
		return row, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(shown); err != nil {
		return row, fmt.Errorf("couldn't encode the event of entry %d: %w", r.Index, err)
	}
	row.Event = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	row.EventKey = shown.eventKey
	return row, nil
}

// queryResponse is the body of GET /v1/events.
type queryResponse struct {
	Events []evidence.Row `json:"events"`
	// NextCursor, when present, fetches the next page.
	NextCursor string `json:"next_cursor,omitempty"`
	// TreeSize is the published tree size the rows are within; proofs are
	// against the checkpoint of this size.
	TreeSize uint64    `json:"tree_size"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
}

// queryEvents answers GET /v1/events: the rows matching the filters,
// newest first, a page at a time.
func (s *Server) queryEvents(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Index == nil {
		s.writeError(w, r, errNoIndex)
		return
	}
	p := newParams(r.URL.Query(), append(filterParams, "limit", "cursor", "proof")...)
	f := p.filter(s.cfg.Now(), MaxQueryWindow)
	limit := p.number("limit", DefaultLimit, 1, MaxLimit)
	after := p.cursor()
	proofAt := p.enum("proof", []string{"false", "first", "true"})
	withProof := proofAt == "true" || proofAt == "first"
	if err := p.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	var ok bool
	if f.TenantID, ok = s.scopedTenant(w, r, f.TenantID); !ok {
		return
	}
	cp, size := s.cfg.Ledger.Published()
	rows, err := s.cfg.Index.Query(r.Context(), index.Query{Filter: f, Below: size, After: after, Order: index.NewestFirst, Limit: limit + 1})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := queryResponse{Events: make([]evidence.Row, 0, min(len(rows), limit)), TreeSize: size, Since: f.Since, Until: f.Until}
	if len(rows) > limit {
		rows = rows[:limit]
		resp.NextCursor = encodeCursor(index.CursorOf(rows[limit-1], f.By))
	}
	proofs := &proofTiles{r: tiles.HashTiles(s.cfg.Tiles), cache: map[tiles.Tile][]tiles.Hash{}}
	u := s.unsealer(r.Context())
	for _, row := range rows {
		er, err := u.eventRow(row)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if withProof {
			rowCP, rowSize := cp, size
			if proofAt == "first" {
				if rowCP, rowSize, err = s.firstCovering(r.Context(), row.Index); err != nil {
					s.writeError(w, r, err)
					return
				}
			}
			if er.Proof, err = proofs.prove(r.Context(), row, rowCP, rowSize); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		resp.Events = append(resp.Events, er)
	}
	n := len(resp.Events)
	if err := s.recordAccess(r, accessRecord{action: "read", count: &n}); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// proofTiles builds the proofs of one answer, reading each tile once.
type proofTiles struct {
	r     tiles.TileReader
	cache map[tiles.Tile][]tiles.Hash
}

func (p *proofTiles) ReadTile(ctx context.Context, t tiles.Tile) ([]tiles.Hash, error) {
	if hs, ok := p.cache[t]; ok {
		return hs, nil
	}
	hs, err := p.r.ReadTile(ctx, t)
	if err == nil {
		p.cache[t] = hs
	}
	return hs, err
}

// prove returns the c2sp.org/tlog-proof@v1 of the row's index against the
// checkpoint cp of size entries, carrying the row's leaf as its extra data.
// The inclusion hashes come from the log's tiles, so a row whose leaf was
// changed in the index yields a proof that does not verify.
func (p *proofTiles) prove(ctx context.Context, row index.Row, cp []byte, size uint64) (string, error) {
	hashes, err := tiles.InclusionProof(ctx, p, row.Index, size)
	if err != nil {
		return "", fmt.Errorf("couldn't prove entry %d: %w", row.Index, err)
	}
	tp := tiles.Proof{Extra: row.Leaf, Index: row.Index, Hashes: hashes, Checkpoint: cp}
	return string(tp.Marshal()), nil
}

// failure is one actor of the failed-attempts report.
type failure struct {
	ActorType string    `json:"actor_type"`
	ActorID   string    `json:"actor_id"`
	Count     int       `json:"count"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
}

// failuresResponse is the body of GET /v1/reports/failed-attempts.
type failuresResponse struct {
	Actors    []failure `json:"actors"`
	Threshold int       `json:"threshold"`
	TreeSize  uint64    `json:"tree_size"`
	Since     time.Time `json:"since"`
	Until     time.Time `json:"until"`
}

// Bounds of the failed-attempts report.
const (
	// DefaultThreshold is the fewest failed attempts reported by default.
	DefaultThreshold = 5
	maxThreshold     = 1_000_000
)

// failedAttempts answers GET /v1/reports/failed-attempts: the actors with
// at least threshold failure or denied results in the window, most first.
func (s *Server) failedAttempts(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Index == nil {
		s.writeError(w, r, errNoIndex)
		return
	}
	allowed := append(filterParams[:len(filterParams):len(filterParams)], "threshold", "limit")
	p := newParams(r.URL.Query(), allowed...)
	if _, ok := r.URL.Query()["result"]; ok {
		p.fail("result", "is not a parameter of this report: it counts failure and denied results")
	}
	f := p.filter(s.cfg.Now(), MaxQueryWindow)
	threshold := p.number("threshold", DefaultThreshold, 1, maxThreshold)
	limit := p.number("limit", DefaultLimit, 1, MaxLimit)
	if err := p.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	var ok bool
	if f.TenantID, ok = s.scopedTenant(w, r, f.TenantID); !ok {
		return
	}
	_, size := s.cfg.Ledger.Published()
	fs, err := s.cfg.Index.Failures(r.Context(), index.FailureQuery{Filter: f, Below: size, Threshold: threshold, Limit: limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := failuresResponse{Actors: make([]failure, len(fs)), Threshold: threshold, TreeSize: size, Since: f.Since, Until: f.Until}
	for i, f := range fs {
		resp.Actors[i] = failure{ActorType: f.ActorType, ActorID: f.ActorID, Count: f.Count, First: f.First, Last: f.Last}
	}
	n := len(resp.Actors)
	if err := s.recordAccess(r, accessRecord{action: "read", count: &n}); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}
