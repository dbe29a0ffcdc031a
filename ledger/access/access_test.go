package access

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestGenerateAndLookup(t *testing.T) {
	secret, tok, err := Generate(Reader, "acme", "bob", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, Prefix) || len(secret) != len(Prefix)+43 || tok.SHA256 != HashSecret(secret) || tok.ID != tok.SHA256[:16] {
		t.Fatalf("secret %q token %+v", secret, tok)
	}
	if strings.Contains(tok.SHA256, secret) || tok.Expires != now.Add(time.Hour) {
		t.Fatalf("token %+v", tok)
	}
	set, err := NewSet(tok)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := set.Lookup(secret, now); err != nil || got.ID != tok.ID {
		t.Fatalf("Lookup: %+v %v", got, err)
	}
	for _, c := range []struct {
		secret string
		at     time.Time
		want   error
	}{
		{secret, now.Add(time.Hour), ErrExpired},
		{secret + "x", now, ErrUnknownToken},
		{"Bearer " + secret, now, ErrUnknownToken},
		{"", now, ErrUnknownToken},
	} {
		if _, err := set.Lookup(c.secret, c.at); !errors.Is(err, c.want) {
			t.Errorf("Lookup(%q, %v): %v, want %v", c.secret, c.at, err, c.want)
		}
	}
	tok.Revoked = now
	set, _ = NewSet(tok)
	if _, err := set.Lookup(secret, now); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked: %v", err)
	}
}

func TestGenerateRefuses(t *testing.T) {
	for _, c := range []struct {
		role   Role
		tenant string
		ttl    time.Duration
		want   string
	}{
		{"root", "", 0, "unknown role"},
		{Reader, "", 0, "needs a tenant"},
		{Auditor, "acme", 0, "has no tenant"},
		{Admin, "acme", 0, "has no tenant"},
		{Writer, "bad tenant", 0, "tenant"},
		{Writer, "", -time.Second, "negative"},
	} {
		if _, _, err := Generate(c.role, c.tenant, "", c.ttl, now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Generate(%s, %q, %v): %v, want %q", c.role, c.tenant, c.ttl, err, c.want)
		}
	}
}

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if ts, exists, err := LoadFile(path); err != nil || exists || len(ts) != 0 {
		t.Fatalf("missing file: %v %v %v", ts, exists, err)
	}
	// An empty file is refused, saying what it should hold.
	os.WriteFile(path, nil, 0o600)
	if _, _, err := LoadFile(path); err == nil || !strings.Contains(err.Error(), "token file is empty") {
		t.Fatalf("an empty token file: %v", err)
	}
	os.Remove(path)
	// Concurrent updates all land: the lock serialises them.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, tok, _ := Generate(Writer, "", "", 0, now)
			if err := UpdateFile(path, func(ts []Token) ([]Token, error) { return append(ts, tok), nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ts, exists, err := LoadFile(path)
	if err != nil || !exists || len(ts) != 20 {
		t.Fatalf("after 20 concurrent updates: %d tokens, %v", len(ts), err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode())
	}
	revoked, err := RevokeInFile(path, ts[3].ID, now)
	if err != nil || !revoked.Revoked.Equal(now) {
		t.Fatalf("revoke: %+v %v", revoked, err)
	}
	if _, err := RevokeInFile(path, "nope", now); !errors.Is(err, ErrNoToken) {
		t.Fatalf("revoking an unknown id: %v", err)
	}
	// An update that fails leaves the file as it was.
	before, _ := os.ReadFile(path)
	dup := ts[0]
	if err := UpdateFile(path, func(ts []Token) ([]Token, error) { return append(ts, dup), nil }); err == nil {
		t.Fatal("a duplicate token was stored")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("a failed update changed the file")
	}
}

func TestKeyring(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	k, err := NewKeyring(KeyringConfig{File: path, Now: func() time.Time { return now }})
	if err != nil || k.Enabled() {
		t.Fatalf("no token file: enabled %v, %v", k.Enabled(), err)
	}
	if err := k.Reload(); err != nil || k.Enabled() {
		t.Fatalf("no token file after a reload: enabled %v, %v", k.Enabled(), err)
	}
	secret, tok, err := Generate(Auditor, "", "", 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := UpdateFile(path, func([]Token) ([]Token, error) { return []Token{tok}, nil }); err != nil {
		t.Fatal(err)
	}
	// The token file created while the keyring runs turns access control
	// on at the next reload, and it stays on.
	if err := k.Reload(); err != nil || !k.Enabled() {
		t.Fatalf("a token file created at run time: enabled %v, %v", k.Enabled(), err)
	}
	k, err = NewKeyring(KeyringConfig{File: path, Now: func() time.Time { return now }})
	if err != nil || !k.Enabled() {
		t.Fatalf("with a token file: enabled %v, %v", k.Enabled(), err)
	}
	// A token added to the file by another process is found at once.
	secret2, tok2, _ := Generate(Writer, "", "", 0, now)
	UpdateFile(path, func(ts []Token) ([]Token, error) { return append(ts, tok2), nil })
	if got, err := k.Authenticate(secret2); err != nil || got.ID != tok2.ID {
		t.Fatalf("a token added to the file: %+v %v", got, err)
	}
	// A revocation in the file takes effect on reload.
	RevokeInFile(path, tok.ID, now)
	if err := k.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Authenticate(secret); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked in the file: %v", err)
	}
	// A damaged or deleted file keeps the tokens read before.
	os.WriteFile(path, []byte("{not json"), 0o600)
	if err := k.Reload(); err == nil {
		t.Fatal("a damaged token file reloaded")
	}
	os.Remove(path)
	if err := k.Reload(); err == nil {
		t.Fatal("a deleted token file reloaded")
	}
	if _, err := k.Authenticate(secret2); err != nil || !k.Enabled() {
		t.Fatalf("after a bad reload: enabled %v, %v", k.Enabled(), err)
	}
	// Static tokens cannot be revoked at run time.
	_, st, _ := Generate(Admin, "", "", 0, now)
	k, err = NewKeyring(KeyringConfig{Static: []Token{st}})
	if err != nil || !k.Enabled() {
		t.Fatal(err)
	}
	if _, err := k.Revoke(st.ID); !errors.Is(err, ErrStatic) {
		t.Fatalf("revoking a static token: %v", err)
	}
}

// FuzzParseFile: any token file is parsed or refused, never a panic, and
// every token of a parsed file is valid.
func FuzzParseFile(f *testing.F) {
	_, tok, _ := Generate(Reader, "acme", "n", time.Hour, now)
	b := []byte(`{"tokens":[{"id":"` + tok.ID + `","role":"reader","tenant":"acme","sha256":"` + tok.SHA256 + `","created":"2026-06-01T12:00:00Z"}]}`)
	f.Add(b)
	f.Add([]byte(`{"tokens":[]}`))
	f.Add([]byte(`{"tokens":null,"x":1}`))
	f.Add([]byte(`{"tokens":[{"id":"","role":"admin"}]} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ParseFile(b)
		if err != nil {
			return
		}
		for _, tok := range ts {
			if err := tok.Validate(); err != nil {
				t.Fatalf("parsed an invalid token: %v", err)
			}
		}
	})
}
