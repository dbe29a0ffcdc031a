package evidence

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/tiles"
)

// goldenV3 is the golden leaf of version 3 of ledger/event, sealed under
// the subject key 00..1f; goldenEK is its event key (HKDF-SHA256 of that
// key with the leaf's tenant and id, per docs/sealed-fields.md) and
// goldenPlaintext what its ciphertext holds.
const (
	goldenV3        = "../ledger/event/testdata/leaf-v3.golden"
	goldenEK        = "2592726b6061290870a6beb76c2b89f8365192f322e8a98490c586268e136e03"
	goldenPlaintext = "{\"actor\":{\"email\":\"ada@example.com\"},\"ip_address\":\"2001:db8::7\",\"user_agent\":\"Mozilla/5.0 <compatible>\",\"reason\":\"ticket #12:\\n\\tgrant \\\"reviewer\\\" & audit\",\"changes\":{\"limits\":{\"old\":{\"a\":[1.0,-0,{\"x\":1,\"y\":2}],\"z\":1e3}},\"notes\":{\"old\":\"line1\\nline2 \u00e9 \u2028 </script> \U0001f600\",\"new\":null},\"role\":{\"old\":\"viewer\",\"new\":\"reviewer\"},\"scope\":{\"new\":{\"depth\":1.50,\"inherit\":true,\"note\":null,\"paths\":[\"/a\",\"/b\"]}},\"\u00c9dition\":{\"new\":true}},\"tags\":{\"ticket\":\"SEC-12\"}}"
)

// openedGolden returns the golden leaf, its event key, and the event as a
// ledger shows it to a reader: its sealed members in clear, spliced by
// hand into the leaf's text, and "sealed": "open".
func openedGolden(t testing.TB) (leaf, ek []byte, shown string) {
	t.Helper()
	leaf, err := os.ReadFile(goldenV3)
	if err != nil {
		t.Fatal(err)
	}
	ek, _ = hex.DecodeString(goldenEK)
	s := strings.Replace(strings.TrimSpace(string(leaf)), `{"v":3,`, `{`, 1)
	s = strings.Replace(s, `"role":"owner"}`, `"role":"owner","email":"ada@example.com"}`, 1)
	s = strings.Replace(s, `"team/owner":"security"}`, `"team/owner":"security","ticket":"SEC-12"}`, 1)
	top := goldenPlaintext[strings.Index(goldenPlaintext, `"ip_address"`):strings.Index(goldenPlaintext, `,"tags"`)]
	s = s[:strings.Index(s, `"sealed":`)] + top + `,"sealed":"open"}`
	return leaf, ek, s
}

func rowLine(t testing.TB, leaf []byte, event string, ek []byte) []byte {
	t.Helper()
	b, err := json.Marshal(Row{Index: 3, LeafHash: tiles.LeafHash(leaf).String(), Leaf: leaf, Event: json.RawMessage(event), EventKey: ek})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOpenedRow: a row showing a sealed event in clear with its event key
// passes when the members shown are those its leaf committed to, in a
// package of FormatKeys only; a changed byte, a wrong key, a member left
// out and a key for an unsealed leaf fail.
func TestOpenedRow(t *testing.T) {
	leaf, ek, shown := openedGolden(t)
	if r, err := parseRow(rowLine(t, leaf, shown, ek), true); err != nil || r == nil {
		t.Fatalf("the golden leaf opened: %v", err)
	}
	if _, err := parseRow(rowLine(t, leaf, shown, ek), false); err == nil || !strings.Contains(err.Error(), "event key, which a package of format ledger-export/v1 does not") {
		t.Errorf("an event key in a package of %s: %v", Format, err)
	}
	wrongKey := append([]byte(nil), ek...)
	wrongKey[0] ^= 1
	v2 := []byte(`{"v":2,"id":"e","timestamp":"2026-01-01T00:00:00Z","action":"read","submitter":{"type":"open"}}`)
	for _, c := range []struct {
		name, event string
		leaf, ek    []byte
		want        string
	}{
		{"a changed byte", strings.Replace(shown, "ada@example.com", "adb@example.com", 1), leaf, ek, "differs from the event its leaf committed to"},
		{"a changed number", strings.Replace(shown, `"depth":1.50`, `"depth":1.5`, 1), leaf, ek, "differs from the event its leaf committed to"},
		{"a member left out", strings.Replace(shown, `"ticket":"SEC-12"`, `"x":"y"`, 1), leaf, ek, "differs from"},
		{"not marked open", strings.Replace(shown, `"sealed":"open"`, `"sealed":"erased"`, 1), leaf, ek, "differs from"},
		{"a wrong key", shown, leaf, wrongKey, "does not open the sealed members of its leaf (key 5f3c1e9a0b2d4f6e8a1c3e5f7a9b0d2c)"},
		{"a short key", shown, leaf, ek[:16], "16 bytes, not 32"},
		{"a key for a leaf not sealed", `{"id":"e","timestamp":"2026-01-01T00:00:00Z","action":"read","submitter":{"type":"open"}}`, v2, ek, "has no sealed members"},
	} {
		if _, err := parseRow(rowLine(t, c.leaf, c.event, c.ek), true); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// A member both in clear and sealed is refused, whatever is shown.
	for _, m := range []string{`{"actor":{"email":"x"}}`, `{"ip_address":"x"}`} {
		ev := map[string]any{"actor": map[string]any{"email": "a"}, "ip_address": "b"}
		var members map[string]any
		json.Unmarshal([]byte(m), &members)
		if err := putBack(ev, members); err == nil || !strings.Contains(err.Error(), "both in clear and sealed") {
			t.Errorf("putBack of %s: %v", m, err)
		}
	}
}
