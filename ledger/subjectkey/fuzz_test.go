package subjectkey_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/subjectkey"
	"github.com/ledger-dev/ledger/ledger/subjectkey/subjectkeytest"
)

// FuzzFile opens a key file of any content: it is refused as damaged, or
// read, and then every operation answers without a panic and Idle and
// Pending list only what the file holds.
func FuzzFile(f *testing.F) {
	f.Add([]byte(`{"keys":[],"erased":[]}`))
	f.Add([]byte(`{"keys":[{"tenant":"acme","subject":"alice","kid":"5f3c1e9a0b2d4f6e8a1c3e5f7a9b0d2c","wrapped":"AAAA","newest":"2026-05-01T11:00:00Z"}],` +
		`"erased":[{"tenant":"acme","subject":"bob","kid":"00112233445566778899aabbccddeeff","why":{"reason":"request","by":"token:1"},"at":"2026-05-01T12:00:00Z","pending":true}]}`))
	f.Add([]byte(`{"keys":null,"erased":[{"tenant":"","subject":"x","kid":"k"}]}`))
	f.Add([]byte(`{"keys":[{"kid":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "subject-keys.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := subjectkey.OpenFile(path, subjectkeytest.MasterKey(t, 1))
		if err != nil {
			return
		}
		ctx := context.Background()
		idle, err := s.Idle(ctx, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range idle {
			s.Open(ctx, k.KID) // the wrapped bytes are the fuzzer's: they need not unwrap
		}
		pending, err := s.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range pending {
			if !e.Pending {
				t.Fatalf("Pending lists %+v", e)
			}
		}
		if _, err := s.Destroy(ctx, "acme", "alice", subjectkey.Why{Reason: "request"}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	})
}
