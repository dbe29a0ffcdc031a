package audit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/audit"
	"github.com/ledger-dev/ledger/audit/audittest"
	"github.com/ledger-dev/ledger/ledger/access"
)

// tokenLedger starts a ledger with access control and returns it with the
// secrets of a writer of tenant "a" and of a reader.
func tokenLedger(t *testing.T, addr string) (lg *audittest.Ledger, writer, reader string) {
	t.Helper()
	writer, wt, err := access.Generate(access.Writer, "a", "", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	reader, rt, err := access.Generate(access.Reader, "a", "", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return audittest.Start(t, audittest.Config{Addr: addr, Tokens: []access.Token{wt, rt}}), writer, reader
}

// TestClientTokens: a writer's token appends into its tenant; a missing or
// wrong token is an *Error with the ledger's status, not retried.
func TestClientTokens(t *testing.T) {
	lg, writer, reader := tokenLedger(t, "")
	c := newClient(t, audit.Config{URL: lg.URL, Token: writer, Wait: "published"})
	if _, err := c.Append(t.Context(), testEvent(1)); err != nil {
		t.Fatal(err)
	}
	log, err := audittest.ReadLog(t.Context(), lg.URL, lg.Key)
	if err != nil || len(log) != 1 || log[0].TenantID != "a" {
		t.Fatalf("log %v (%v): want one event, of the writer's tenant", log, err)
	}
	for _, c := range []struct {
		token  string
		status int
	}{{"", 401}, {access.Prefix + "unknown", 401}, {reader, 403}} {
		cl := newClient(t, audit.Config{URL: lg.URL, Token: c.token})
		start := time.Now()
		_, err := cl.Append(t.Context(), testEvent(2))
		var e *audit.Error
		if !errors.As(err, &e) || e.Status != c.status || errors.Is(err, audit.ErrUnavailable) || time.Since(start) > time.Second {
			t.Errorf("token %.8q: %v, want a %d at once", c.token, err, c.status)
		}
	}
}

// TestRecorderTokens: events recorded under a token that may not write
// wait in the spool (they are fine; the token is not) and are sent once
// the Recorder has a writer's token; an event of another tenant than the
// writer's is moved to rejected.ndjson, and the events around it arrive.
func TestRecorderTokens(t *testing.T) {
	addr := audittest.FreeAddr(t)
	lg, writer, reader := tokenLedger(t, addr)
	dir := t.TempDir()
	r := newRecorder(t, lg.URL, audit.RecorderConfig{Dir: dir, Client: newClient(t, audit.Config{URL: lg.URL, Token: reader})})
	ids := record(t, r, testEvents(0, 3)...)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := r.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with a reader's token: %v, want the events to wait", err)
	}
	if st := r.Stats(); st.Rejected != 0 || st.Sent != 0 || st.SpoolBytes == 0 {
		t.Fatalf("stats with a reader's token: %+v", st)
	}
	closeCtx, cancelClose := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancelClose()
	if err := r.Close(closeCtx); err == nil {
		t.Fatal("Close with unsent events returned nil")
	}

	r = newRecorder(t, lg.URL, audit.RecorderConfig{Dir: dir, Client: newClient(t, audit.Config{URL: lg.URL, Token: writer, Wait: "published"})})
	other := testEvent(9)
	other.TenantID = "b"
	ids = append(ids, record(t, r, other, testEvent(10))...)
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	rej := readRejected(t, dir)
	if len(rej) != 1 || rej[0].Status != 403 || r.Stats().Rejected != 1 {
		t.Fatalf("rejected %+v, stats %+v: want the other tenant's event refused with 403", rej, r.Stats())
	}
	log, err := audittest.ReadLog(t.Context(), lg.URL, lg.Key)
	if err != nil {
		t.Fatal(err)
	}
	// The reader's attempts to write are in the log too, as denied accesses.
	var recorded []*audit.Event
	denied := 0
	for _, ev := range log {
		if ev.EventType == "audit.accessed" && ev.Result == audit.ResultDenied && ev.Actor.Role == "reader" {
			denied++
		} else {
			recorded = append(recorded, ev)
		}
	}
	if denied == 0 {
		t.Error("the reader's refused appends are not in the log")
	}
	checkOnce(t, recorded, []string{ids[0], ids[1], ids[2], ids[4]})
}
