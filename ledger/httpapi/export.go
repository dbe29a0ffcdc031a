package httpapi

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/index"
)

// exportPage is how many rows an export reads from the index at a time.
const exportPage = 1000

// TreeSizeHeader is the response header of GET /v1/export that gives the
// published tree size the exported rows are within.
const TreeSizeHeader = "Ledger-Tree-Size"

// exportWriter writes the rows of an export in one format.
type exportWriter interface {
	row(r index.Row) error
	flush() error
}

// export answers GET /v1/export: every row matching the filters, oldest
// first, streamed as NDJSON (the rows of GET /v1/events) or CSV. With
// event_keys=true, an NDJSON row whose sealed members were opened carries
// their event key, so that an evidence package can show them and a
// verifier check them against the leaf. The window
// defaults to the last 30 days like a query, but may be of any length. The
// rows are within the tree size published when the export started.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Index == nil {
		s.writeError(w, r, errNoIndex)
		return
	}
	p := newParams(r.URL.Query(), append(filterParams, "format", "event_keys")...)
	f := p.filter(s.cfg.Now(), 0)
	format := p.enum("format", []string{"ndjson", "csv"})
	u := s.unsealer(r.Context())
	u.eventKeys = p.boolean("event_keys")
	if u.eventKeys && format == "csv" {
		p.fail("event_keys", "is for format=ndjson: a CSV row has no place for a key")
	}
	if err := p.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Logged before the first row leaves, so that no export goes unlogged;
	// its completion, with the count, is logged when the stream ends.
	if err := s.recordAccess(r, accessRecord{action: "export"}); err != nil {
		s.writeError(w, r, err)
		return
	}
	// An export streams for as long as the rows take: the server's write
	// timeout, which bounds every other answer, does not apply to it.
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	_, size := s.cfg.Ledger.Published()
	q := index.Query{Filter: f, Below: size, Order: index.OldestFirst, Limit: exportPage}
	rows, err := s.cfg.Index.Query(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var ew exportWriter
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		ew = newCSVExport(bw, u)
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		ew = ndjsonExport{enc: enc, u: u}
	}
	w.Header().Set(TreeSizeHeader, strconv.FormatUint(size, 10))
	rc := http.NewResponseController(w)
	sent := 0
	for {
		sent += len(rows)
		for _, row := range rows {
			if err := ew.row(row); err != nil {
				s.abortExport(r, err)
			}
		}
		if err := ew.flush(); err != nil {
			s.abortExport(r, err)
		}
		if err := bw.Flush(); err != nil {
			s.abortExport(r, err)
		}
		rc.Flush()
		if len(rows) < exportPage {
			s.exportCompleted(r, sent)
			return
		}
		c := index.CursorOf(rows[len(rows)-1], q.By)
		q.After = &c
		if rows, err = s.cfg.Index.Query(r.Context(), q); err != nil {
			s.abortExport(r, err)
		}
	}
}

// exportCompleted logs the end of an export with the rows it sent. The
// rows have left already, so a failure here is only logged: the export's
// start is in the log.
func (s *Server) exportCompleted(r *http.Request, rows int) {
	if err := s.recordAccess(r, accessRecord{eventType: ExportCompletedEventType, action: "export", count: &rows}); err != nil {
		s.log.Error("couldn't log the completion of an export", "request_id", requestIDOf(r), "rows", rows, "err", err)
	}
}

// abortExport ends an export that failed after its first bytes were sent:
// the connection is cut without the final chunk, so that the client sees
// an incomplete response rather than a short export that looks whole.
func (s *Server) abortExport(r *http.Request, err error) {
	if r.Context().Err() == nil {
		s.log.Error("export failed midway", "request_id", requestIDOf(r), "path", r.URL.Path, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// ndjsonExport writes one JSON row per line, its sealed members opened by
// u.
type ndjsonExport struct {
	enc *json.Encoder
	u   *unsealer
}

func (e ndjsonExport) row(r index.Row) error {
	row, err := e.u.eventRow(r)
	if err != nil {
		return err
	}
	return e.enc.Encode(row)
}

func (e ndjsonExport) flush() error { return nil }

// csvColumns are the columns of a CSV export. The values come from the
// leaf; received_at and the submitter's are empty for a version 1 leaf;
// event is the whole event as JSON.
var csvColumns = []string{"index", "leaf_hash", "id", "timestamp", "tenant_id", "event_type", "action", "actor_id", "actor_type",
	"resource_type", "resource_id", "result", "failure_reason", "source", "ip_address",
	"received_at", "submitter_type", "submitter_token_id", "submitter_role", "event"}

// csvExport writes a header line and one line per row, its sealed members
// opened by u.
type csvExport struct {
	w *csv.Writer
	u *unsealer
}

// newCSVExport returns a csvExport that has written the header line.
func newCSVExport(bw *bufio.Writer, u *unsealer) *csvExport {
	e := &csvExport{w: csv.NewWriter(bw), u: u}
	e.w.Write(csvColumns) // an error sticks in e.w and is returned by flush
	return e
}

func (e *csvExport) row(r index.Row) error {
	rec := []string{strconv.FormatUint(r.Index, 10), r.LeafHash.String()}
	if ev, err := event.ParseLeaf(r.Leaf); err == nil {
		shown, err := e.u.show(ev)
		if err != nil {
			return err
		}
		js, err := json.Marshal(shown)
		if err != nil {
			return err
		}
		var received string
		if !ev.ReceivedAt.IsZero() {
			received = ev.ReceivedAt.Format(time.RFC3339Nano)
		}
		rec = append(rec, ev.ID, ev.Timestamp.Format(time.RFC3339Nano), ev.TenantID, ev.EventType, ev.Action, ev.Actor.ID, ev.Actor.Type,
			ev.Resource.Type, ev.Resource.ID, ev.Result, ev.FailureReason, ev.Source, ev.IPAddress,
			received, ev.Submitter.Type, ev.Submitter.TokenID, ev.Submitter.Role, string(js))
	}
	for len(rec) < len(csvColumns) {
		rec = append(rec, "")
	}
	for i := range rec {
		rec[i] = defuseFormula(rec[i])
	}
	return e.w.Write(rec)
}

func (e *csvExport) flush() error {
	e.w.Flush()
	return e.w.Error()
}

// defuseFormula prefixes a cell that a spreadsheet would run as a formula
// with an apostrophe (OWASP's advice against CSV injection): audit events
// carry strings that attackers choose. NDJSON exports are exact.
func defuseFormula(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
