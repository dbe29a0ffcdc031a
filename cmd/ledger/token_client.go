package main

import (
	"flag"
	"net/http"
	"os"
	"time"

	"github.com/ledger-dev/ledger/tiles"
)

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

// newHTTPClient returns a client that sends token, if set.
func newHTTPClient(token string, timeout time.Duration) *http.Client {
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
