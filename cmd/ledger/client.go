package main

import (
	"flag"
	"net/http"
	"os"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

// The plumbing every client subcommand (append, export, index with --log
// URL) shares: the --token flag, an HTTP client that sends the token, and
// the verifying client's fetcher that sends it.

// tokenFlag defines --token, the bearer token a command sends, defaulting
// to $LEDGER_TOKEN so that it need not appear in shell history.
func tokenFlag(fs *flag.FlagSet, role string) *string {
	return fs.String("token", os.Getenv("LEDGER_TOKEN"), "API token (a "+role+"'s), sent as a bearer token (default $LEDGER_TOKEN)")
}

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

// withToken makes an HTTP fetcher send token, if set.
func withToken(f tiles.Fetcher, token string) tiles.Fetcher {
	if h, ok := f.(*tiles.HTTPFetcher); ok && token != "" {
		return h.WithToken(token)
	}
	return f
}
