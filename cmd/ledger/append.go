package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
)

func cmdAppend(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("append", stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "the ledger's base URL")
	wait := fs.String("wait", "durable", "acknowledgement level: durable or published")
	batchSize := fs.Int("batch", 1000, "events per request")
	token := tokenFlag(fs, "writer")
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
	if *batchSize < 1 {
		return fmt.Errorf("%w: --batch must be at least 1", errUsage)
	}
	endpoint := strings.TrimSuffix(*url, "/") + "/v1/events?wait=" + *wait
	client := newClient(*token, 2*time.Minute)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var batch [][]byte
	line := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := sendBatch(ctx, client, endpoint, batch, stdout)
		batch = batch[:0]
		return err
	}
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		withID, err := ensureID(text)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		batch = append(batch, withID)
		if len(batch) == *batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return flush()
}

// ensureID gives an event without an id a fresh UUIDv7, so that a retried
// request is deduplicated by the ledger instead of logged twice.
func ensureID(line []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if _, ok := m["id"]; ok {
		return line, nil
	}
	m["id"], _ = json.Marshal(event.NewID())
	return json.Marshal(m)
}

// sendBatch posts NDJSON events, retrying on 503 as Retry-After says, and
// prints one result line per event.
func sendBatch(ctx context.Context, client *http.Client, endpoint string, batch [][]byte, stdout io.Writer) error {
	body := append(bytes.Join(batch, []byte("\n")), '\n')
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			if attempt < 5 {
				time.Sleep(time.Second)
				continue
			}
			return err
		}
		respBody, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusServiceUnavailable && attempt < 30 {
			delay, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(delay, 1)) * time.Second)
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
