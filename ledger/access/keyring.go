package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ledger-dev/ledger/internal/every"
)

// ErrStatic refuses to revoke a token defined in the configuration file:
// only the file that defines it can.
var ErrStatic = errors.New("token is defined in the configuration file")

// ErrNoToken is a revocation of an ID that names no token.
var ErrNoToken = errors.New("no such token")

// KeyringConfig configures a Keyring. Zero values take the documented
// defaults.
type KeyringConfig struct {
	// File is the token file (tokens made by `ledger token create` and the
	// admin API). Empty: none, and tokens cannot be created at run time.
	File string
	// Static are tokens from the configuration file; they cannot be
	// revoked at run time.
	Static []Token
	// Now is the clock for expiry. Default time.Now.
	Now func() time.Time
	// Logger receives reload errors. Default slog.Default().
	Logger *slog.Logger
}

// Keyring is the set of tokens the ledger accepts: the static ones and the
// token file's, reread when the file changes. It is safe for concurrent
// use.
type Keyring struct {
	cfg     KeyringConfig
	enabled atomic.Bool // once on, never off again
	set     atomic.Pointer[Set]

	mu    sync.Mutex // serialises reloads
	stamp fileStamp
}

// fileStamp tells whether the token file changed since it was read.
type fileStamp struct {
	exists  bool
	size    int64
	modTime time.Time
	inode   uint64
}

// NewKeyring loads the tokens. Access control is enabled when there are
// static tokens or the token file exists; a ledger started without either
// is open to anyone (Enabled reports false) until a reload finds the token
// file (Watch looks every interval), and from then on it checks tokens
// until it stops, even if the file is then deleted.
func NewKeyring(cfg KeyringConfig) (*Keyring, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if _, err := NewSet(cfg.Static...); err != nil {
		return nil, err
	}
	k := &Keyring{cfg: cfg}
	if err := k.reload(true); err != nil {
		return nil, err
	}
	k.enabled.Store(len(cfg.Static) > 0 || k.stamp.exists)
	return k, nil
}

// Enabled reports whether tokens are checked at all.
func (k *Keyring) Enabled() bool { return k.enabled.Load() }

// Authenticate returns the usable token whose secret this is. A secret it
// does not know makes it check whether the token file changed (one stat)
// and reread it if so, so that a token just made by `ledger token create`
// works at once.
func (k *Keyring) Authenticate(secret string) (Token, error) {
	now := k.cfg.Now()
	t, err := k.set.Load().Lookup(secret, now)
	if errors.Is(err, ErrUnknownToken) && k.cfg.File != "" {
		if rerr := k.Reload(); rerr != nil {
			k.cfg.Logger.Error("couldn't reload the token file; keeping the tokens read before", "file", k.cfg.File, "err", rerr)
		}
		t, err = k.set.Load().Lookup(secret, now)
	}
	return t, err
}

// Reload rereads the token file if it changed. On error the tokens read
// before stay in force: a damaged or deleted file never opens the ledger.
func (k *Keyring) Reload() error { return k.reload(false) }

func (k *Keyring) reload(force bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var stamp fileStamp
	if k.cfg.File != "" {
		st, err := statFile(k.cfg.File)
		if err != nil {
			return err
		}
		stamp = st
	}
	if !force && stamp == k.stamp {
		return nil
	}
	if !stamp.exists && k.stamp.exists {
		return fmt.Errorf("token file %s disappeared", k.cfg.File)
	}
	var fileTokens []Token
	if k.cfg.File != "" {
		var err error
		if fileTokens, _, err = LoadFile(k.cfg.File); err != nil {
			return err
		}
	}
	set, err := NewSet(append(slices.Clone(k.cfg.Static), fileTokens...)...)
	if err != nil {
		return fmt.Errorf("tokens of %s and the configuration file: %w", k.cfg.File, err)
	}
	k.set.Store(set)
	k.stamp = stamp
	// A forced reload is NewKeyring's, which sets enabled itself, or
	// follows this keyring's own change of the file (admin API, which
	// needs access control on).
	if stamp.exists && !k.enabled.Load() && !force {
		k.enabled.Store(true)
		k.cfg.Logger.Warn("access control is now on: the token file appeared; requests need a token", "file", k.cfg.File, "tokens", len(set.Tokens()))
	}
	return nil
}

func statFile(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{exists: true, size: fi.Size(), modTime: fi.ModTime(), inode: inodeOf(fi)}, nil
}

// Watch rereads a changed token file every interval until ctx ends, so
// that revocations by `ledger token revoke` take effect within interval.
func (k *Keyring) Watch(ctx context.Context, interval time.Duration) {
	every.Run(ctx, interval, func(context.Context) {
		if err := k.Reload(); err != nil {
			k.cfg.Logger.Error("couldn't reload the token file; keeping the tokens read before", "file", k.cfg.File, "err", err)
		}
	})
}

// Tokens returns every token, static and from the file.
func (k *Keyring) Tokens() []Token { return k.set.Load().Tokens() }

// Create makes a token, adds it to the token file, and returns its secret
// (shown once) with the stored token.
func (k *Keyring) Create(role Role, tenant, name string, ttl time.Duration) (string, Token, error) {
	if k.cfg.File == "" {
		return "", Token{}, errors.New("this ledger has no token file")
	}
	secret, tok, err := Generate(role, tenant, name, ttl, k.cfg.Now())
	if err != nil {
		return "", Token{}, err
	}
	err = UpdateFile(k.cfg.File, func(ts []Token) ([]Token, error) { return append(ts, tok), nil })
	if err != nil {
		return "", Token{}, err
	}
	return secret, tok, k.reload(true)
}

// Revoke marks the token id revoked in the token file.
func (k *Keyring) Revoke(id string) (Token, error) {
	if t, ok := k.set.Load().Get(id); ok && slices.ContainsFunc(k.cfg.Static, func(s Token) bool { return s.ID == t.ID }) {
		return Token{}, fmt.Errorf("%w: %s", ErrStatic, id)
	}
	if k.cfg.File == "" {
		return Token{}, fmt.Errorf("%w: %s", ErrNoToken, id)
	}
	revoked, err := RevokeInFile(k.cfg.File, id, k.cfg.Now())
	if err != nil {
		return Token{}, err
	}
	return revoked, k.reload(true)
}

// RevokeInFile marks the token id revoked at now in the token file at path.
// Revoking a revoked token changes nothing.
func RevokeInFile(path, id string, now time.Time) (Token, error) {
	var revoked Token
	err := UpdateFile(path, func(ts []Token) ([]Token, error) {
		i := slices.IndexFunc(ts, func(t Token) bool { return t.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("%w: %s", ErrNoToken, id)
		}
		if ts[i].Revoked.IsZero() {
			ts[i].Revoked = now.UTC().Truncate(time.Second)
		}
		revoked = ts[i]
		return ts, nil
	})
	return revoked, err
}
