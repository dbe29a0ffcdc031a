package audit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	// URL is the ledger's base URL, e.g. "http://127.0.0.1:8080" or
	// "https://audit.example.com/prod/". Required.
	URL string
	// Token, if set, is sent as "Authorization: Bearer <Token>".
	Token string
	// Wait is the acknowledgement level Append asks for: "durable" (the
	// default: committed, survives a crash of the ledger), "published" (in
	// the checkpoint the ledger serves, so VerifyReceipt works at once) or
	// "cosigned" (that checkpoint met the witness quorum).
	Wait string
	// HTTPClient sends the requests. Default: an http.Client with a 30 s
	// timeout per request.
	HTTPClient *http.Client
	// MaxAttempts bounds the requests Append makes for one call: it retries
	// network errors, 408, 429 and 5xx answers. Default 5. The context's
	// deadline bounds the retries as well.
	MaxAttempts int
	// MinBackoff is the wait before the first retry; it doubles on each
	// retry, with jitter, up to MaxBackoff. A Retry-After header asking for
	// longer wins. Defaults 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives retries and rejections. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for event timestamps. Default time.Now.
	Now func() time.Time
}

func (c *Config) validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("audit: Config.URL %q is not an http(s) URL", c.URL)
	}
	switch c.Wait {
	case "":
		c.Wait = "durable"
	case "durable", "published", "cosigned":
	default:
		return fmt.Errorf("audit: Config.Wait is %q, want durable, published or cosigned", c.Wait)
	}
	if c.MaxAttempts < 0 || c.MinBackoff < 0 || c.MaxBackoff < 0 {
		return errors.New("audit: Config.MaxAttempts, MinBackoff and MaxBackoff must not be negative")
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 5)
	c.MinBackoff = cmp.Or(c.MinBackoff, 100*time.Millisecond)
	c.MaxBackoff = max(cmp.Or(c.MaxBackoff, 10*time.Second), c.MinBackoff)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Client appends events to a ledger and verifies receipts. It is safe for
// concurrent use.
type Client struct {
	cfg  Config
	base string // URL without its trailing slash
	log  *slog.Logger
	prep preparer
}

// New validates cfg and returns a Client. It does not contact the ledger.
func New(_ context.Context, cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, base: strings.TrimSuffix(cfg.URL, "/"), log: cfg.Logger, prep: newPreparer(cfg.Now)}, nil
}

// NewClient returns a Client for the ledger at url that authenticates with
// token (none if empty), with the defaults of Config.
func NewClient(url, token string) (*Client, error) {
	return New(context.Background(), Config{URL: url, Token: token})
}

// Receipt is the ledger's acknowledgement of one event.
type Receipt struct {
	// Index is the event's position in the log.
	Index uint64
	// ID is the event's ID, its idempotency key.
	ID string
	// LeafHash is the RFC 6962 hash of the event's leaf, the value the log's
	// Merkle tree commits to.
	LeafHash tiles.Hash
	// Leaf is the event's leaf bytes, when known: Append takes it from the
	// ledger's receipt (Wait "published" or "cosigned": the leaf holds the
	// ledger's receive time and submitter), or keeps the leaf it computes
	// when that hashes to LeafHash (a ledger writing leaf version 1);
	// VerifyReceipt reads it from the ledger.
	Leaf []byte
	// Duplicate is set when the ledger had logged the ID before: this
	// receipt is the original's.
	Duplicate bool
}

// receiptJSON is the JSON form of a Receipt, with the names of the ledger's
// append results.
type receiptJSON struct {
	Index     uint64 `json:"index"`
	ID        string `json:"id"`
	LeafHash  string `json:"leaf_hash"`
	Leaf      []byte `json:"leaf,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// MarshalJSON encodes r as {"index", "id", "leaf_hash" (base64), "leaf"
// (base64, when known), "duplicate" (when set)}, so that receipts can be
// stored and verified later.
func (r Receipt) MarshalJSON() ([]byte, error) {
	return json.Marshal(receiptJSON{Index: r.Index, ID: r.ID, LeafHash: r.LeafHash.String(), Leaf: r.Leaf, Duplicate: r.Duplicate})
}

// UnmarshalJSON decodes what MarshalJSON writes, and the ledger's append
// results.
func (r *Receipt) UnmarshalJSON(b []byte) error {
	var j receiptJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	h, err := tiles.ParseHash(j.LeafHash)
	if err != nil {
		return fmt.Errorf("receipt leaf_hash: %w", err)
	}
	*r = Receipt{Index: j.Index, ID: j.ID, LeafHash: h, Leaf: j.Leaf, Duplicate: j.Duplicate}
	return nil
}

// Append sends events to the ledger as one atomic batch and returns their
// receipts, in order, once the ledger acknowledged them at the Wait level.
//
// An event without an ID or Timestamp gets one (a UUIDv7, the current time),
// set on the caller's *Event: calling Append again with the same events, or
// any retry Append makes itself after a network error or a 503, reuses the
// IDs, and the ledger logs each event once (a resubmitted one comes back
// with Duplicate set). Events are validated here first; an invalid one
// fails the call with an *Error (Status 0) listing every problem, and
// nothing is sent. Errors from the ledger are *Error with its status; when
// the retries run out the error wraps ErrUnavailable.
func (c *Client) Append(ctx context.Context, events ...*Event) ([]Receipt, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var body bytes.Buffer
	leaves := make([][]byte, len(events))
	for i, ev := range events {
		b, redacted, err := c.prep.prepare(ev)
		if err != nil {
			return nil, indexed(err, i)
		}
		body.Write(b)
		body.WriteByte('\n')
		leaves[i], _ = redacted.Leaf()
	}
	results, err := c.post(ctx, body.Bytes(), c.cfg.MaxAttempts)
	if err != nil {
		return nil, err
	}
	if len(results) != len(events) {
		return nil, fmt.Errorf("the ledger answered %d results for %d events", len(results), len(events))
	}
	for i := range results {
		if results[i].ID != events[i].ID {
			return nil, fmt.Errorf("the ledger's result %d is for event %q, not %q", i, results[i].ID, events[i].ID)
		}
		if leaves[i] != nil && tiles.LeafHash(leaves[i]) == results[i].LeafHash {
			results[i].Leaf = leaves[i]
		}
	}
	return results, nil
}

// indexed sets the event index of an *Error's details.
func indexed(err error, i int) error {
	var e *Error
	if errors.As(err, &e) {
		for j := range e.Details {
			e.Details[j].Index = i
		}
	}
	return err
}

// post sends an NDJSON body to POST /v1/events, retrying as retryable
// says, at most attempts times (0: until ctx is done).
func (c *Client) post(ctx context.Context, body []byte, attempts int) ([]Receipt, error) {
	var last error
	for attempt := 1; ; attempt++ {
		results, err := c.postOnce(ctx, body)
		if err == nil {
			return results, nil
		}
		if ctx.Err() != nil && retryable(context.Background(), err) {
			// The caller's deadline ended this attempt: the ledger did not
			// answer in time, as when it ends the wait between two.
			return nil, fmt.Errorf("%w: %w (last error: %v)", ErrUnavailable, ctx.Err(), err)
		}
		if !retryable(ctx, err) {
			return nil, err
		}
		last = err
		if attempts > 0 && attempt >= attempts {
			return nil, fmt.Errorf("%w after %d attempts: %w", ErrUnavailable, attempt, last)
		}
		wait := c.backoff(attempt, err)
		c.log.Debug("ledger append failed; retrying", "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w (last error: %v)", ErrUnavailable, ctx.Err(), last)
		case <-t.C:
		}
	}
}

func (c *Client) postOnce(ctx context.Context, body []byte) ([]Receipt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/events?wait="+c.cfg.Wait, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("couldn't build the append request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	b, err := c.do(req)
	if err != nil {
		return nil, err
	}
	var results []Receipt
	if err := json.Unmarshal(b, &results); err != nil {
		return nil, fmt.Errorf("couldn't decode the ledger's append results: %w", err)
	}
	return results, nil
}

// do sends req with the token and returns the body of a 200 answer; any
// other status is an *Error.
func (c *Client) do(req *http.Request) ([]byte, error) {
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	req.Header.Set("User-Agent", "ledger-audit-go")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("couldn't reach the ledger: %w", err)
	}
	defer resp.Body.Close()
	b, err := readBody(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the ledger's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, responseError(resp, b)
	}
	return b, nil
}

// backoff returns how long to wait before retry number attempt: an
// exponential delay with jitter, or longer if the ledger asked for it.
func (c *Client) backoff(attempt int, err error) time.Duration {
	d := c.cfg.MaxBackoff
	if attempt < 32 {
		d = min(c.cfg.MinBackoff<<(attempt-1), c.cfg.MaxBackoff)
	}
	d = d/2 + jitter(d/2)
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > d {
		d = min(e.RetryAfter, maxRetryAfter)
	}
	return d
}
