package tiles

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Fetcher reads a log's resources by their tlog-tiles path relative to the
// log prefix ("checkpoint", "tile/0/000.p/5", ...). It returns an error
// wrapping ErrNotFound when the resource does not exist. A Fetcher is not
// trusted: everything it returns is verified by the caller.
type Fetcher interface {
	Fetch(ctx context.Context, path string) ([]byte, error)
}

// ErrNotFound is returned (wrapped) by a Fetcher for a resource that does not exist.
var ErrNotFound = errors.New("not found")

// maxResourceSize bounds what a fetcher reads: a full entry bundle of 256
// entries of the maximum size is just under 16 MiB.
const maxResourceSize = TileWidth*(MaxEntrySize+2) + 1

// NewFetcher returns an HTTPFetcher for an http:// or https:// location and a
// DirFetcher for anything else, taken as a directory.
func NewFetcher(location string) (Fetcher, error) {
	if strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://") {
		return NewHTTPFetcher(location)
	}
	st, err := os.Stat(location)
	if err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("log location %s is not a directory or an http(s) URL", location)
	}
	return DirFetcher(location), nil
}

// DirFetcher reads a log laid out as the tlog-tiles read API in a local
// directory. A pruned log's directory holds its Pruned document at
// PrunedPath: an entry bundle that is missing and that the document refuses
// is reported as a *PrunedError, any other missing resource as ErrNotFound.
type DirFetcher string

// Fetch reads path below the directory.
func (d DirFetcher) Fetch(ctx context.Context, path string) ([]byte, error) {
	if !fs.ValidPath(path) {
		return nil, fmt.Errorf("invalid resource path %q", path)
	}
	f, err := os.Open(filepath.Join(string(d), filepath.FromSlash(path)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, d.missing(path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return readLimited(f, path, size)
}

// missing is the error for path, which the directory does not hold: a
// *PrunedError for an entry bundle that the directory's Pruned document
// refuses, ErrNotFound otherwise.
func (d DirFetcher) missing(path string) error {
	notFound := fmt.Errorf("%s: %w", path, ErrNotFound)
	t, err := ParsePath(path)
	if err != nil || !t.Entries {
		return notFound
	}
	raw, err := os.ReadFile(filepath.Join(string(d), PrunedPath))
	if errors.Is(err, fs.ErrNotExist) {
		return notFound
	} else if err != nil {
		return err
	}
	p, err := ParsePruned(raw)
	if err != nil {
		return fmt.Errorf("%s is missing, and %s: %w", path, PrunedPath, err)
	}
	if !p.Refuses(t) {
		return notFound
	}
	return &PrunedError{Path: path, Pruned: p}
}

// HTTPFetcher reads a log from an HTTP(S) URL prefix, with keep-alive
// connections and transparent gzip.
type HTTPFetcher struct {
	base   *url.URL
	client *http.Client
	token  string
}

// NewHTTPFetcher returns a fetcher for the log at prefix, e.g.
// https://example.com/log/.
func NewHTTPFetcher(prefix string) (*HTTPFetcher, error) {
	u, err := url.Parse(prefix)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("log URL %q is not an http(s) URL", prefix)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// Compression stays enabled: the transport asks for gzip and
		// decompresses, including bundles a log gzips without being asked.
	}
	return &HTTPFetcher{base: u, client: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

// WithToken returns a fetcher for the same log that sends token as a bearer
// token, for logs that serve some resources (entry bundles, say) only to
// authorised readers. The token is sent only to the log's own host.
func (h *HTTPFetcher) WithToken(token string) *HTTPFetcher {
	c := *h
	c.token = token
	return &c
}

// Fetch GETs path below the prefix. A 404 is ErrNotFound; a 410 whose body
// is a Pruned document (as a pruned log answers for a bundle it refuses) is
// a *PrunedError (a minimum index of 0 refuses nothing, so it is not one);
// any other status but 200 is an error.
func (h *HTTPFetcher) Fetch(ctx context.Context, path string) ([]byte, error) {
	u := h.base.ResolveReference(&url.URL{Path: path})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "ledger-verifier")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return readLimited(resp.Body, u.String(), resp.ContentLength)
	case http.StatusNotFound:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s: %w", u, ErrNotFound)
	case http.StatusGone:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxPrunedSize))
		if p, err := ParsePruned(body); err == nil && p.MinimumIndex > 0 {
			return nil, &PrunedError{Path: path, Pruned: p}
		}
		return nil, fmt.Errorf("couldn't fetch %s: %s", u, resp.Status)
	case http.StatusUnauthorized, http.StatusForbidden:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("couldn't fetch %s: %s (the log serves it only with a token allowed to read it)", u, resp.Status)
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("couldn't fetch %s: %s", u, resp.Status)
	}
}

// readLimited reads r to its end, refusing more than maxResourceSize bytes.
// sizeHint, if positive, is the size r is expected to have: a buffer of the
// right size up front saves regrowing it several times per tile or bundle,
// which profiling showed to cost Audit a third of its throughput. A wrong
// hint costs only speed.
func readLimited(r io.Reader, name string, sizeHint int64) ([]byte, error) {
	var buf bytes.Buffer
	if sizeHint > 0 && sizeHint <= maxResourceSize {
		buf.Grow(int(sizeHint) + bytes.MinRead) // room to see EOF without growing
	}
	if _, err := buf.ReadFrom(io.LimitReader(r, maxResourceSize+1)); err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", name, err)
	}
	if buf.Len() > maxResourceSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxResourceSize)
	}
	return buf.Bytes(), nil
}

// FetchTile fetches tile t. When a partial tile is missing it falls back to
// the full tile with the same index and returns its first t.Width hashes or
// entries' worth of bytes: a log may delete a partial tile once the full one
// exists. The result is not authenticated.
func FetchTile(ctx context.Context, f Fetcher, t Tile) ([]byte, error) {
	b, err := f.Fetch(ctx, t.Path())
	if err == nil || !errors.Is(err, ErrNotFound) || t.Full() {
		return b, err
	}
	full := t
	full.Width = TileWidth
	b, ferr := f.Fetch(ctx, full.Path())
	if ferr != nil {
		return nil, err // report the partial tile as the missing one
	}
	if !t.Entries {
		if len(b) != TileWidth*HashSize {
			return nil, fmt.Errorf("full tile %s has %d bytes, want %d", full.Path(), len(b), TileWidth*HashSize)
		}
		return b[:int(t.Width)*HashSize], nil
	}
	return truncateBundle(b, t.Width)
}

// truncateBundle returns the prefix of a full entry bundle holding its first n entries.
func truncateBundle(b []byte, n uint16) ([]byte, error) {
	off := 0
	for i := 0; i < int(n); i++ {
		if len(b)-off < 2 {
			return nil, errors.New("full entry bundle is shorter than its partial prefix")
		}
		off += 2 + int(binary.BigEndian.Uint16(b[off:]))
		if off > len(b) {
			return nil, errors.New("full entry bundle is shorter than its partial prefix")
		}
	}
	return b[:off], nil
}
