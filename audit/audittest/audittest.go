// Package audittest runs a real ledger (the posix storage driver and its
// SQLite key index behind the ledger's HTTP API) on 127.0.0.1 for the tests of the audit SDK and of the
// examples, and reads its log back through the verifying tiles client.
package audittest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/access"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/keyindex"
	"github.com/ledger-dev/ledger/ledger/storage/posix"
	"github.com/ledger-dev/ledger/tiles"
)

// Key is a log key for a test ledger: keep it to restart a ledger on the
// same data.
type Key struct {
	SKey, VKey string
}

// NewKey generates a log key for origin.
func NewKey(t testing.TB, origin string) Key {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, origin)
	if err != nil {
		t.Fatal(err)
	}
	return Key{SKey: skey, VKey: vkey}
}

// Policy returns a trust policy of the key alone.
func (k Key) Policy(t testing.TB) *tiles.Policy {
	t.Helper()
	p, err := tiles.NewLogPolicy(k.VKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Config configures a test ledger. Zero values take the defaults.
type Config struct {
	// Dir is the data directory. Default: a new t.TempDir().
	Dir string
	// Addr is the listen address. Default "127.0.0.1:0".
	Addr string
	// Key is the log key. Default: a new key for "example.com/audittest".
	Key Key
	// Limits bounds events; default event.DefaultLimits().
	Limits event.Limits
	// Tokens, if set, turn on the ledger's access control with these
	// tokens (make them with access.Generate). Entry bundles stay public,
	// so that ReadLog needs no token.
	Tokens []access.Token
}

// Ledger is a running ledger.
type Ledger struct {
	// URL is the base URL, with a trailing slash.
	URL string
	// Addr is the address it listens on.
	Addr string
	// Dir is its data directory, Key its log key.
	Dir string
	Key Key

	srv   *http.Server
	l     *ledger.Ledger
	store *posix.Storage
	keys  *keyindex.Store
	done  chan struct{}
	stop  sync.Once
}

// Start starts a ledger; it is stopped when the test ends, if not before.
func Start(t testing.TB, cfg Config) *Ledger {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Key == (Key{}) {
		cfg.Key = NewKey(t, "example.com/audittest")
	}
	signer, err := note.NewSigner(cfg.Key.SKey)
	if err != nil {
		t.Fatal(err)
	}
	store, err := posix.Open(t.Context(), posix.Config{Dir: filepath.Join(cfg.Dir, "log")})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyindex.Open(t.Context(), keyindex.Config{Path: filepath.Join(cfg.Dir, keyindex.FileName)})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	l, err := ledger.New(t.Context(), ledger.Config{Storage: store, Keys: keys, Signer: signer, KeyOf: event.KeyOf, PublishInterval: 10 * time.Millisecond})
	if err != nil {
		keys.Close()
		store.Close()
		t.Fatal(err)
	}
	apiCfg := httpapi.Config{Ledger: l, Tiles: store, Limits: cfg.Limits}
	if len(cfg.Tokens) > 0 {
		if apiCfg.Access, err = access.NewKeyring(access.KeyringConfig{Static: cfg.Tokens}); err != nil {
			t.Fatal(err)
		}
		apiCfg.PublicEntries = true
	}
	api, err := httpapi.New(apiCfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		l.Close(context.Background())
		keys.Close()
		store.Close()
		t.Fatal(err)
	}
	lg := &Ledger{URL: "http://" + ln.Addr().String() + "/", Addr: ln.Addr().String(), Dir: cfg.Dir, Key: cfg.Key,
		srv: &http.Server{Handler: api}, l: l, store: store, keys: keys, done: make(chan struct{})}
	go func() { lg.srv.Serve(ln); close(lg.done) }()
	t.Cleanup(lg.Stop)
	return lg
}

// Stop stops the ledger: connections are closed at once, then the ledger
// and its storage. Stop may be called more than once.
func (lg *Ledger) Stop() {
	lg.stop.Do(func() {
		lg.srv.Close()
		<-lg.done
		lg.l.Close(context.Background())
		lg.keys.Close()
		lg.store.Close()
	})
}

// Event returns the event at index in the ledger's committed log (what
// GET /v1/events/{index} answers), or nil if the log has no entry there yet.
func (lg *Ledger) Event(t testing.TB, index int) *event.Event {
	t.Helper()
	size := lg.l.Committed().Size
	if index < 0 || uint64(index) >= size {
		return nil
	}
	bt, _ := tiles.BundleFor(uint64(index)/tiles.TileWidth, size)
	entries, err := tiles.ReadEntryBundle(context.Background(), lg.store, bt)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.ParseLeaf(entries[uint64(index)%tiles.TileWidth])
	if err != nil {
		t.Fatalf("entry %d is not an event: %v", index, err)
	}
	return ev
}

// FreeAddr returns a 127.0.0.1 address that nothing listened on a moment
// ago: where a ledger that is down will come up.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// ReadLog returns every event in the log at url, read through the
// verifying tiles client from the checkpoint signed by key: the hash tiles
// are authenticated against the checkpoint and every entry against its leaf
// hash.
func ReadLog(ctx context.Context, url string, key Key) ([]*event.Event, error) {
	policy, err := tiles.NewLogPolicy(key.VKey)
	if err != nil {
		return nil, err
	}
	f, err := tiles.NewHTTPFetcher(url)
	if err != nil {
		return nil, err
	}
	raw, err := f.Fetch(ctx, "checkpoint")
	if err != nil {
		return nil, err
	}
	sc, err := policy.Verify(raw)
	if err != nil {
		return nil, err
	}
	tree := tiles.NewTree(f, sc.Checkpoint)
	var events []*event.Event
	for n := uint64(0); n < tiles.BundleCount(sc.Size); n++ {
		entries, err := tree.Bundle(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, leaf := range entries {
			ev, err := event.ParseLeaf(leaf)
			if err != nil {
				return nil, errors.Join(errors.New("a leaf is not an event"), err)
			}
			events = append(events, ev)
		}
	}
	return events, nil
}
