package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// The plumbing every client subcommand (append, export, index with --log
// URL) shares: the --token flag, an HTTP client that sends the token, and
// the verifying client's fetcher that sends it.

// tokenFlag defines --token, the bearer token a command sends, defaulting
// to $LEDGER_TOKEN so that it need not appear in shell history.
func tokenFlag(fs *flag.FlagSet, role string) *string {
	t := secret(os.Getenv("LEDGER_TOKEN"))
	fs.Var(&t, "token", "the API `token` of "+role+", sent as a bearer token (default $LEDGER_TOKEN)")
	return (*string)(&t)
}

// secret is a string flag whose value --help never prints.
type secret string

func (s *secret) String() string     { return "" }
func (s *secret) Set(v string) error { *s = secret(v); return nil }

// bearer adds a bearer token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(req)
}

// newClient returns the HTTP client of a client subcommand: it sends
// token, if set, as a bearer token, and gives up on a request after timeout
// (0: never).
func newClient(token string, timeout time.Duration) *http.Client {
	c := &http.Client{Timeout: timeout}
	if token != "" {
		c.Transport = bearer{token: token, next: http.DefaultTransport}
	}
	return c
}

// baseURL checks the --url of a client subcommand and returns it without a
// trailing slash.
func baseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: --url %q: give the ledger's http:// or https:// URL, such as http://127.0.0.1:8080", errUsage, raw)
	}
	return strings.TrimSuffix(raw, "/"), nil
}

// withToken makes an HTTP fetcher send token, if set.
func withToken(f tiles.Fetcher, token string) tiles.Fetcher {
	if h, ok := f.(*tiles.HTTPFetcher); ok && token != "" {
		return h.WithToken(token)
	}
	return f
}

// get sends GET u and returns the answer if its status is 200, for the
// caller to read and close; any other status is an error saying that the
// ledger refused what, with the start of the answer's body.
func get(ctx context.Context, client *http.Client, u, what string) (*http.Response, error) {
	return send(ctx, client, http.MethodGet, u, "", what)
}

// send is get with another method and a JSON body (none if empty).
func send(ctx context.Context, client *http.Client, method, u, body, what string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("the ledger refused %s: %s: %s", what, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}
