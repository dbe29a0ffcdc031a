package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ledger-dev/ledger/audit/spool"
)

// rejectedFile is where a Recorder keeps events the ledger refused, in its
// spool directory.
const rejectedFile = "rejected.ndjson"

// send ships the spool to the ledger, oldest events first, one batch at a
// time, until the Recorder stops. A batch is removed from the spool only
// after the ledger acknowledged it.
func (r *Recorder) send() {
	defer close(r.senderDone)
	for {
		recs, end, err := r.spool.Peek(r.cfg.BatchSize, r.cfg.BatchBytes)
		if err != nil {
			r.log.Error("couldn't read the audit spool", "err", err)
			if !r.sleep(time.Second) {
				return
			}
			continue
		}
		if len(recs) == 0 {
			r.setAcked(end)
			select {
			case <-r.wake:
				continue
			case <-r.stop:
				return
			}
		}
		if !r.deliver(recs) {
			return
		}
		// At this point the ledger holds every event of the batch: a crash
		// before the Ack only sends them again, and the ledger answers
		// those as duplicates.
		if err := r.spool.Ack(end); err != nil {
			r.log.Error("couldn't acknowledge events in the audit spool", "err", err)
			continue
		}
		r.setAcked(end)
	}
}

// setAcked records that everything before pos is acknowledged and wakes
// Flush and Close.
func (r *Recorder) setAcked(pos spool.Position) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if r.acked.Less(pos) {
		r.acked = pos
		close(r.progress)
		r.progress = make(chan struct{})
	}
}

// deliver sends recs until the ledger acknowledges them, waiting out
// outages, and isolates events the ledger refuses. It returns false if the
// Recorder stopped first.
func (r *Recorder) deliver(recs [][]byte) bool {
	body := append(bytes.Join(recs, []byte("\n")), '\n')
	for attempt := 1; ; attempt++ {
		results, err := r.c.post(r.stopCtx, body, 1)
		switch {
		case err == nil && len(results) != len(recs):
			err = fmt.Errorf("the ledger answered %d results for %d events", len(results), len(recs))
		case err == nil:
			for _, res := range results {
				r.sent.Add(1)
				if res.Duplicate {
					r.duplicates.Add(1)
				}
			}
			if attempt > 1 {
				r.log.Info("audit ledger reachable again", "attempts", attempt)
			}
			return true
		case r.stopCtx.Err() != nil:
			return false
		case rejected(err):
			return r.isolate(recs, err)
		}
		if attempt == 1 || attempt%100 == 0 {
			r.log.Warn("audit ledger unavailable; events wait in the spool", "attempt", attempt, "err", err)
		}
		if !r.sleep(r.c.backoff(attempt, err)) {
			return false
		}
	}
}

// isolate handles a batch the ledger refused. Batches are atomic, so one
// bad event sinks the others: each event is sent alone, and one refused
// alone is moved to the rejected file.
func (r *Recorder) isolate(recs [][]byte, err error) bool {
	if len(recs) > 1 {
		for _, rec := range recs {
			if !r.deliver([][]byte{rec}) {
				return false
			}
		}
		return true
	}
	for {
		werr := r.reject(recs[0], err)
		if werr == nil {
			return true
		}
		r.log.Error("couldn't keep a rejected event; it stays in the spool", "err", werr)
		if !r.sleep(time.Second) {
			return false
		}
	}
}

// reject appends an event the ledger refused, with the ledger's error, to
// DIR/rejected.ndjson and fsyncs it.
func (r *Recorder) reject(rec []byte, reason error) error {
	status := 0
	if e := (*Error)(nil); errors.As(reason, &e) {
		status = e.Status
	}
	line, err := json.Marshal(struct {
		Time   time.Time       `json:"time"`
		Status int             `json:"status"`
		Error  string          `json:"error"`
		Event  json.RawMessage `json:"event"`
	}{time.Now().UTC(), status, reason.Error(), rec})
	if err != nil {
		return err
	}
	path := filepath.Join(r.cfg.Dir, rejectedFile)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	r.rejected.Add(1)
	r.log.Error("the audit ledger rejected an event; it was moved aside", "file", path, "err", reason)
	return nil
}

// sleep waits for d, or returns false when the Recorder stops first.
func (r *Recorder) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.stop:
		return false
	}
}
