package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchConfig is what `ledger bench` runs.
type benchConfig struct {
	url         string
	concurrency int
	batch       int
	eventSize   int
	duration    time.Duration
	rate        float64 // events/s over all clients; 0 = as fast as possible
	wait        string
	token       string
}

func cmdBench(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "fill" {
		return cmdBenchFill(ctx, args[1:], stdout, stderr)
	}
	fs := newFlags("bench")
	fs.Usage = usageText(fs, "usage: ledger bench --url URL [flags]\n\nsends generated events for --duration and prints events/s and latency;\n'ledger bench fill --help' fills a log without HTTP\n")
	var c benchConfig
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the ledger's base URL")
	fs.IntVar(&c.concurrency, "concurrency", 64, "concurrent clients")
	fs.IntVar(&c.batch, "batch", 1, "events per request (1 sends a single JSON object)")
	fs.IntVar(&c.eventSize, "event-size", 400, "approximate bytes per event")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to run")
	fs.Float64Var(&c.rate, "rate", 0, "target events/s over all clients (0: unlimited)")
	fs.StringVar(&c.wait, "wait", "durable", "acknowledgement level: durable or published")
	fs.StringVar(&c.token, "token", "", "API token (a writer's), sent as a bearer token")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if c.concurrency < 1 || c.batch < 1 || c.eventSize < 100 || c.duration <= 0 || c.rate < 0 {
		return fmt.Errorf("%w: need --concurrency >= 1, --batch >= 1, --event-size >= 100, --duration > 0, --rate >= 0", errUsage)
	}
	res, err := runBench(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, res.String(c))
	return nil
}

// benchResult is what a run measured.
type benchResult struct {
	events, requests, errors uint64
	elapsed                  time.Duration
	latencies                []time.Duration // per request, sorted
	firstErr                 string
}

func (r *benchResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func (r *benchResult) String(c benchConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "concurrency %d, batch %d, ~%d-byte events, wait=%s, rate %s, %s\n",
		c.concurrency, c.batch, c.eventSize, c.wait, rateString(c.rate), r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "events/s %.0f  requests/s %.0f  events %d  errors %d\n",
		float64(r.events)/r.elapsed.Seconds(), float64(r.requests)/r.elapsed.Seconds(), r.events, r.errors)
	fmt.Fprintf(&b, "latency p50 %s  p90 %s  p99 %s  max %s\n", r.percentile(0.50), r.percentile(0.90), r.percentile(0.99), r.percentile(1))
	if r.firstErr != "" {
		fmt.Fprintf(&b, "first error: %s\n", r.firstErr)
	}
	return b.String()
}

func rateString(rate float64) string {
	if rate == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%.0f/s", rate)
}

// runBench drives the ledger with c.concurrency clients for c.duration. With
// a rate, requests are scheduled at fixed intervals and latency is measured
// from the scheduled time, so a stalled server cannot hide its queueing.
func runBench(ctx context.Context, c benchConfig) (*benchResult, error) {
	base, err := baseURL(c.url)
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(base + "/v1/events?wait=" + url.QueryEscape(c.wait))
	if err != nil {
		return nil, fmt.Errorf("%w: --url %q: %v", errUsage, c.url, err)
	}
	contentType := "application/json"
	if c.batch > 1 {
		contentType = "application/x-ndjson"
	}
	// Each client cycles through a few requests made up front, so that the
	// load generator spends its CPU on HTTP, not on making JSON. The events
	// carry no id: the ledger gives each a new one, so every request appends
	// new, distinct entries.
	requests := make([][][]byte, c.concurrency)
	var seq atomic.Uint64
	for w := range requests {
		requests[w] = make([][]byte, 4)
		for i := range requests[w] {
			requests[w][i] = benchRequest(target, contentType, c.token, benchBody(w, &seq, c))
		}
	}
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(c.duration))
	defer cancel()
	var ticks chan time.Time
	if c.rate > 0 {
		ticks = make(chan time.Time, c.concurrency)
		go schedule(ctx, ticks, time.Duration(float64(time.Second)*float64(c.batch)/c.rate))
	}
	res := &benchResult{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range c.concurrency {
		conn := &benchConn{target: target, deadline: start.Add(c.duration)}
		wg.Go(func() {
			var lat []time.Duration
			var events, reqs, errs uint64
			var firstErr string
			for ctx.Err() == nil {
				t0 := time.Now()
				if ticks != nil {
					select {
					case t0 = <-ticks:
					case <-ctx.Done():
						continue
					}
				}
				err := conn.do(requests[w][reqs%uint64(len(requests[w]))])
				if ctx.Err() != nil || !time.Now().Before(conn.deadline) {
					break // the run ended mid-request: don't count it
				}
				reqs++
				lat = append(lat, time.Since(t0))
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
					continue
				}
				events += uint64(c.batch)
			}
			mu.Lock()
			defer mu.Unlock()
			res.latencies = append(res.latencies, lat...)
			res.events += events
			res.requests += reqs
			res.errors += errs
			if res.firstErr == "" {
				res.firstErr = firstErr
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	if res.requests == 0 {
		return nil, fmt.Errorf("no request completed: %s", res.firstErr)
	}
	return res, nil
}

// schedule emits request start times at a fixed interval until ctx ends.
func schedule(ctx context.Context, ticks chan<- time.Time, every time.Duration) {
	next := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		select {
		case ticks <- next:
		case <-ctx.Done():
			return
		}
		next = next.Add(every)
	}
}

// benchBody builds a request of c.batch distinct events of about c.eventSize bytes.
func benchBody(worker int, seq *atomic.Uint64, c benchConfig) []byte {
	var b bytes.Buffer
	for range c.batch {
		n := seq.Add(1)
		start := b.Len()
		fmt.Fprintf(&b, `{"event_type":"data.read","action":"read","actor":{"id":"user-%d","type":"user","email":"user%d@example.com"},`+
			`"resource":{"type":"record","id":"rec-%d"},"result":"success","source":"bench","ip_address":"192.0.2.%d",`+
			`"user_agent":"ledger-bench/1","request_id":"req-%d-%d","reason":"`, n%1000, n%1000, n, n%250, worker, n)
		padEvent(&b, start, c.eventSize)
	}
	return b.Bytes()
}

// benchRequest returns the bytes of an HTTP/1.1 POST of body to target.
func benchRequest(target *url.URL, contentType, token string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n",
		target.RequestURI(), target.Host, contentType, len(body))
	if token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", token)
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// benchConn is one client's keep-alive connection. It writes prepared
// request bytes and reads each response with net/http's parser, without
// http.Client's goroutine handoffs per request: the load generator shares
// the machine with the server, and should take as little of it as it can.
type benchConn struct {
	target   *url.URL
	deadline time.Time
	conn     net.Conn
	br       *bufio.Reader
}

// do sends one request and reads its response; any answer but 200 OK is an
// error.
func (c *benchConn) do(req []byte) error {
	if c.conn == nil {
		if err := c.dial(); err != nil {
			return err
		}
	}
	if _, err := c.conn.Write(req); err != nil {
		c.close()
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return err
	}
	msg, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return err
}

func (c *benchConn) dial() error {
	d := &net.Dialer{Timeout: 5 * time.Second, Deadline: c.deadline}
	var err error
	if c.target.Scheme == "https" {
		c.conn, err = (&tls.Dialer{NetDialer: d}).Dial("tcp", hostPort(c.target))
	} else {
		c.conn, err = d.Dial("tcp", hostPort(c.target))
	}
	if err != nil {
		return err
	}
	c.conn.SetDeadline(c.deadline) // the run ends mid-request rather than late
	c.br = bufio.NewReader(c.conn)
	return nil
}

func (c *benchConn) close() {
	c.conn.Close()
	c.conn = nil
}

// hostPort returns u's host with the scheme's default port when it has none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}
