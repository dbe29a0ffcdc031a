package ledger

import "testing"

func TestIndexKey(t *testing.T) {
	const id = "01937b6e-4c1a-7d2e-9f00-aa55bb66cc77"
	packed := indexKey(id)
	if len(packed) != 17 || packed[0] != 0 || packed[1] != 0x01 || packed[16] != 0x77 {
		t.Fatalf("indexKey(%q) = %x", id, packed)
	}
	distinct := []string{
		"", id, "01937B6E-4C1A-7D2E-9F00-AA55BB66CC77", // uppercase is another key
		"01937b6e-4c1a-7d2e-9f00-aa55bb66cc7", "01937b6e-4c1a-7d2e-9f00-aa55bb66cc778",
		"01937b6e+4c1a-7d2e-9f00-aa55bb66cc77", "order-17", packed, "\x01" + packed, "\x01" + packed[1:],
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "00000000-0000-0000-0000-000000000000",
	}
	seen := map[string]string{}
	for _, k := range distinct {
		got := indexKey(k)
		if prev, ok := seen[got]; ok {
			t.Errorf("keys %q and %q share the index form %q", prev, k, got)
		}
		seen[got] = k
	}
	if indexKey("order-17") != "order-17" || indexKey("") != "" {
		t.Error("a key that is not a UUID must keep its own form")
	}
}
