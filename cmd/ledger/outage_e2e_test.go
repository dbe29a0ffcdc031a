package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/s3test"
)

// TestOutages runs `ledger serve` on PostgreSQL and a versitygw bucket and
// takes each away under it in turn: the bucket (versitygw killed, then
// restarted on the same port) and the database (the TCP connection to it
// cut and refused, as a network partition does, then restored). While a
// service is down, appends get 503 with Retry-After and a JSON error and
// are not acknowledged; once it is back, appends succeed again without restarting
// the ledger; and at the end every event acknowledged before, between and
// after the outages is at its index, and the log audits.
func TestOutages(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	s3srv := s3test.Start(t)
	cfg := s3srv.Bucket(t, "outage", s3test.BucketOptions{})
	db := startProxy(t, pgtest.New(t))
	srv := startServer(t, ledgerBin, "--data", t.TempDir(), "--postgres", db.dsn, "--bucket", cfg.URL(), "--publish-interval", "50ms")
	a := &acks{t: t, index: map[uint64]ack{}}
	n := 0
	appendOK := func() {
		t.Helper()
		batch := []map[string]any{testEvent(fmt.Sprintf("outage-%d", n), n), testEvent(fmt.Sprintf("outage-%d-b", n), n)}
		n++
		got, err := postEvents(http.DefaultClient, srv.url, batch)
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		a.record(batch, got)
	}
	// appendFails checks that an append is refused with a JSON error while
	// a service is down.
	appendFails := func(what string) {
		t.Helper()
		body, _ := json.Marshal([]map[string]any{testEvent(fmt.Sprintf("down-%d", n), n)})
		n++
		resp, err := http.Post(srv.url+"v1/events", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Fatalf("append with the %s down: %s %s, want a 503 with Retry-After and a JSON error", what, resp.Status, b)
		}
		t.Logf("with the %s down: %s %s", what, resp.Status, e.Error)
	}
	// recovers appends until one succeeds, for at most 15s.
	recovers := func(what string) {
		t.Helper()
		start := time.Now()
		for {
			batch := []map[string]any{testEvent(fmt.Sprintf("back-%d", n), n)}
			n++
			got, err := postEvents(http.DefaultClient, srv.url, batch)
			if err == nil {
				a.record(batch, got)
				t.Logf("appends resumed %s after the %s came back", time.Since(start).Round(time.Millisecond), what)
				return
			}
			if time.Since(start) > 15*time.Second {
				t.Fatalf("appends did not resume within 15s of the %s coming back: %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for range 5 {
		appendOK()
	}

	s3srv.Stop()
	appendFails("bucket")
	appendFails("bucket")
	s3srv.Restart(t)
	recovers("bucket")
	appendOK()

	db.down()
	appendFails("database")
	db.up(t)
	recovers("database")
	appendOK()

	checkAcked(t, srv.url, a)
	checkDeduplicated(t, srv.url, a)
	var last uint64
	for i := range a.index {
		last = max(last, i)
	}
	waitCheckpoint(t, srv.url, last+1, 2*time.Second)
	out := verify(t, verifierBin, "audit", "--log", srv.url, "--vkey", srv.vkey)
	t.Logf("%d events acknowledged around the outages; %s", len(a.index), out)
}

// proxy forwards TCP connections to a PostgreSQL server, and can cut them
// and refuse new ones (down) until up.
type proxy struct {
	dsn    string // the DSN through the proxy
	addr   string // where it listens
	target string // the server's host:port

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func startProxy(t *testing.T, dsn string) *proxy {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: u.Host}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	u.Host = p.addr
	p.dsn = u.String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

// down closes the listener and every connection through it.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// up listens again on the same address.
func (p *proxy) up(t *testing.T) {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("proxy: couldn't listen on %s again: %v", p.addr, err)
}
