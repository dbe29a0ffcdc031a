package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
)

func cmdAppend(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("append")
	fs.Usage = usageText(fs, "usage: ledger append [flags] [FILE|-]\n\nsends the events of FILE (or standard input): NDJSON, a JSON array or one\nJSON object; prints one result per event\n")
	url := fs.String("url", "http://127.0.0.1:8080", "the ledger's base URL")
	wait := fs.String("wait", "durable", "acknowledgement level: durable or published")
	batchSize := fs.Int("batch", 1000, "events per request")
	attempts := fs.Int("attempts", 10, "times a batch is sent before giving up, when the network fails or the ledger answers 503")
	token := tokenFlag(fs, "a writer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	in := stdin
	switch fs.NArg() {
	case 0:
	case 1:
		if fs.Arg(0) != "-" {
			f, err := os.Open(fs.Arg(0))
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			defer f.Close()
			in = f
		}
	default:
		return fmt.Errorf("%w: at most one input FILE", errUsage)
	}
	if *batchSize < 1 || *attempts < 1 {
		return fmt.Errorf("%w: --batch and --attempts must be at least 1", errUsage)
	}
	base, err := baseURL(*url)
	if err != nil {
		return err
	}
	endpoint := base + "/v1/events?wait=" + *wait
	client := newClient(*token, 2*time.Minute)
	var batch [][]byte
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := sendBatch(ctx, client, endpoint, batch, *attempts, stdout, stderr)
		batch = batch[:0]
		return err
	}
	events, err := newEventReader(in)
	if err != nil {
		return err
	}
	for {
		ev, err := events.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		batch = append(batch, ev)
		if len(batch) == *batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// eventReader reads the events of `ledger append`'s input: NDJSON, a JSON
// array of events, or JSON objects one after another however they are laid
// out (pretty-printed, say). Each event comes back compacted onto one line,
// with an id.
type eventReader struct {
	dec     *json.Decoder
	n       int  // events read
	inArray bool // the input is a JSON array whose '[' is read
}

func newEventReader(in io.Reader) (*eventReader, error) {
	br := bufio.NewReaderSize(in, 64<<10)
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	r := &eventReader{dec: json.NewDecoder(br)}
	if first == '[' {
		if _, err := r.dec.Token(); err != nil {
			return nil, r.fail(err)
		}
		r.inArray = true
	}
	return r, nil
}

// firstByte returns the first byte of br that is not JSON white space,
// without consuming it; 0 for an input of white space only.
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			return b, br.UnreadByte()
		}
	}
}

// next returns the next event, or io.EOF after the last.
func (r *eventReader) next() ([]byte, error) {
	if r.inArray && !r.dec.More() {
		if _, err := r.dec.Token(); err != nil { // the closing ']'
			return nil, r.fail(err)
		}
		r.inArray = false
		if _, err := r.dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%w: data after the JSON array of events, at byte %d", errInput, r.dec.InputOffset())
		}
		return nil, io.EOF
	}
	var raw json.RawMessage // Decode copies: each event owns its bytes
	if err := r.dec.Decode(&raw); err != nil {
		if err == io.EOF && !r.inArray {
			return nil, io.EOF
		}
		return nil, r.fail(err)
	}
	r.n++
	ev, err := ensureID(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: event %d: %v", errInput, r.n, err)
	}
	return ev, nil
}

// fail describes a decoding error with where it happened.
func (r *eventReader) fail(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: the input ends inside event %d", errInput, r.n+1)
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("%w: event %d is not JSON (%v, at byte %d)", errInput, r.n+1, syntax, syntax.Offset)
	}
	return fmt.Errorf("%w: event %d: %v", errInput, r.n+1, err)
}

// errInput marks input that `ledger append` cannot read; the events before
// it have been sent, nothing after it is.
var errInput = errors.New("bad input")

// ensureID returns an event as one line of NDJSON, with a fresh UUIDv7 id
// if it has none, so that a retried request is deduplicated by the ledger
// instead of logged twice.
func ensureID(raw []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if _, ok := m["id"]; !ok {
		m["id"], _ = json.Marshal(event.NewID())
		return json.Marshal(m)
	}
	var line bytes.Buffer
	if err := json.Compact(&line, raw); err != nil {
		return nil, err
	}
	return line.Bytes(), nil
}

// sendBatch posts NDJSON events and prints one result line per event. A
// request that fails on the network, or that the ledger answers 503
// (pushback, or a wait level not reached in time), is sent again, after
// Retry-After, at most maxAttempts times in all, with a line on stderr for
// each retry. Resending is safe: every event has an id, so the ledger logs
// it once.
func sendBatch(ctx context.Context, client *http.Client, endpoint string, batch [][]byte, maxAttempts int, stdout, stderr io.Writer) error {
	body := append(bytes.Join(batch, []byte("\n")), '\n')
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			if attempt < maxAttempts && ctx.Err() == nil {
				fmt.Fprintf(stderr, "ledger append: %v; retrying in 1s (attempt %d of %d)\n", err, attempt+1, maxAttempts)
				time.Sleep(time.Second)
				continue
			}
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		respBody, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			why := bytes.TrimSpace(respBody)
			if attempt >= maxAttempts {
				return fmt.Errorf("gave up after %d attempts; the ledger answered %s: %s", attempt, resp.Status, why)
			}
			delay, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			delay = max(delay, 1)
			fmt.Fprintf(stderr, "ledger append: the ledger answered %s: %s; retrying in %ds (attempt %d of %d)\n", resp.Status, why, delay, attempt+1, maxAttempts)
			time.Sleep(time.Duration(delay) * time.Second)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the ledger refused the batch (%s): %s", resp.Status, bytes.TrimSpace(respBody))
		}
		var results []json.RawMessage
		if err := json.Unmarshal(respBody, &results); err != nil {
			return fmt.Errorf("unexpected response: %v", err)
		}
		for _, r := range results {
			fmt.Fprintf(stdout, "%s\n", r)
		}
		return nil
	}
}
