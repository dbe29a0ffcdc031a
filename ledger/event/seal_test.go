package event

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// The test vector of the package documentation and docs/formats.md.
var (
	vectorSK, _ = hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	vectorKID   = "5f3c1e9a0b2d4f6e8a1c3e5f7a9b0d2c"
	vectorNonce = "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab"
	vectorCT    = "249927257af8a26b5dcad3e4dd4c4421841f634da2d9dc1381531af0c71cee19" +
		"eaab46ee6cd54018e38680c030671a2504c93f4461ab8c61d172618e319570f1" +
		"31a211082e819c55da4f78dc9d8f3c9df55653af6892f34360ac9347d81f45a4" +
		"9a8ff7b7f8c912ba"
	vectorMember = `"sealed":{"kid":"5f3c1e9a0b2d4f6e8a1c3e5f7a9b0d2c","nonce":"oKGio6Slpqeoqaqr","ct":"JJknJXr4omtdytPk3UxEIYQfY02i2dwTgVMa8Mcc7hnqq0bubNVAGOOGgMAwZxolBMk/RGGrjGHRcmGOMZVw8TGiEQgugZxV2k943J2PPJ31VlOvaJLzQ2Csk0fYH0Wkmo/3t/jJEro="}`
)

// vectorEvent is the event of the test vector, before sealing.
func vectorEvent() *Event {
	return &Event{
		ID: "0190f5c2-7a4e-7b1c-9d2e-3f4a5b6c7d8e", Timestamp: time.Date(2024, 7, 1, 9, 0, 0, 0, time.UTC),
		TenantID: "acme", EventType: "record.viewed", Action: "read",
		Actor:    Actor{ID: "u-alice", Type: "user", Email: "alice@example.com"},
		Resource: Resource{Type: "chart", ID: "c-9"}, Result: "success",
		IPAddress: "192.0.2.7", Reason: "chart review",
		ReceivedAt: time.Date(2024, 7, 1, 9, 0, 1, 0, time.UTC),
		Submitter:  TokenSubmitter("3f7a1c2b9d0e4f56", "writer", "acme"),
	}
}

// goldenV3Event is goldenV2Event sealed with the default fields and the tag
// "ticket", under the vector's key and nonce.
func goldenV3Event(t *testing.T) *Event {
	e := goldenV2Event()
	s := Sealing{Fields: DefaultSealedFields, Tags: []string{"ticket"}}
	if ok, err := e.Seal(s, vectorKID, vectorSK, strings.NewReader(vectorNonce)); !ok || err != nil {
		t.Fatalf("Seal = %v, %v", ok, err)
	}
	return e
}

// TestSealVector reproduces the test vector byte for byte and opens it.
func TestSealVector(t *testing.T) {
	e := vectorEvent()
	ok, err := e.Seal(Sealing{Fields: DefaultSealedFields}, vectorKID, vectorSK, strings.NewReader(vectorNonce))
	if !ok || err != nil {
		t.Fatalf("Seal = %v, %v", ok, err)
	}
	if got := hex.EncodeToString(e.Sealed.CT); got != vectorCT {
		t.Errorf("CT = %s\nwant %s", got, vectorCT)
	}
	if e.Actor.Email != "" || e.IPAddress != "" || e.Reason != "" || e.Actor.ID != "u-alice" {
		t.Errorf("sealed members left in clear, or others taken: %+v", e)
	}
	leaf, err := e.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(leaf, []byte(`{"v":3,`)) || !bytes.HasSuffix(leaf, []byte(`,`+vectorMember+`}`)) {
		t.Errorf("leaf %s\ndoes not begin with version 3 and end with %s", leaf, vectorMember)
	}
	back, err := ParseLeaf(leaf)
	if err != nil {
		t.Fatalf("ParseLeaf: %v", err)
	}
	if err := back.Open(vectorSK); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !equalEvents(back, vectorEvent()) {
		t.Errorf("opened %+v\nwant %+v", back, vectorEvent())
	}
	ek, err := back.EventKey(vectorSK)
	if err != nil || hex.EncodeToString(ek) != "44e631203749a13cb3c8e00be70a81f76355a638cc56b1f7ddaa1e4fb7250034" {
		t.Errorf("EventKey = %x, %v; want the vector's EK", ek, err)
	}
}

// TestOpenRefuses checks that a changed bit, another key, another event or
// another key id fails to open, leaving the event sealed.
func TestOpenRefuses(t *testing.T) {
	otherKey := bytes.Repeat([]byte{7}, 32)
	for _, tt := range []struct {
		name   string
		change func(e *Event) []byte
	}{
		{"flipped ciphertext bit", func(e *Event) []byte { e.Sealed.CT[40] ^= 1; return vectorSK }},
		{"flipped tag bit", func(e *Event) []byte { e.Sealed.CT[len(e.Sealed.CT)-1] ^= 0x80; return vectorSK }},
		{"flipped nonce bit", func(e *Event) []byte { e.Sealed.Nonce[0] ^= 1; return vectorSK }},
		{"other key", func(*Event) []byte { return otherKey }},
		{"other tenant", func(e *Event) []byte { e.TenantID = "acme2"; return vectorSK }},
		{"other id", func(e *Event) []byte { e.ID = "0190f5c2-7a4e-7b1c-9d2e-3f4a5b6c7d8f"; return vectorSK }},
		{"other key id", func(e *Event) []byte { e.Sealed.KID = strings.Repeat("0", 32); return vectorSK }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := vectorEvent()
			if _, err := e.Seal(Sealing{Fields: DefaultSealedFields}, vectorKID, vectorSK, strings.NewReader(vectorNonce)); err != nil {
				t.Fatal(err)
			}
			key := tt.change(e)
			if err := e.Open(key); !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %v, want ErrOpen", err)
			}
			if e.Sealed == nil || e.Actor.Email != "" {
				t.Fatalf("a failed Open changed the event: %+v", e)
			}
		})
	}
}

// TestSealNothing checks that an event without sealed members set stays of
// version 2, and that fields and tags not named stay in clear.
func TestSealNothing(t *testing.T) {
	e := vectorEvent()
	e.Actor.Email, e.IPAddress, e.Reason = "", "", ""
	e.Tags = map[string]string{"env": "prod"}
	if ok, err := e.Seal(Sealing{Fields: DefaultSealedFields, Tags: []string{"mrn"}}, vectorKID, vectorSK, strings.NewReader(vectorNonce)); ok || err != nil {
		t.Fatalf("Seal = %v, %v; want false, nil", ok, err)
	}
	if e.Version() != 2 || e.Tags["env"] != "prod" {
		t.Fatalf("version %d, tags %v", e.Version(), e.Tags)
	}
	e.Tags["mrn"] = "12345"
	if ok, err := e.Seal(Sealing{Tags: []string{"mrn"}}, vectorKID, vectorSK, strings.NewReader(vectorNonce)); !ok || err != nil {
		t.Fatalf("Seal = %v, %v", ok, err)
	}
	if _, ok := e.Tags["mrn"]; ok || e.Tags["env"] != "prod" || e.Version() != 3 {
		t.Fatalf("tags %v, version %d", e.Tags, e.Version())
	}
	if err := e.Open(vectorSK); err != nil || e.Tags["mrn"] != "12345" {
		t.Fatalf("Open = %v, tags %v", err, e.Tags)
	}
}

func TestSealingCheck(t *testing.T) {
	if err := (Sealing{Fields: SealableFields}).Check(); err != nil {
		t.Fatal(err)
	}
	if err := (Sealing{Fields: []string{"actor.id"}}).Check(); err == nil || !strings.Contains(err.Error(), `"actor.id" cannot be sealed`) {
		t.Fatalf("Check = %v", err)
	}
	e := vectorEvent()
	if _, err := e.Seal(Sealing{Fields: DefaultSealedFields}, "ABC", vectorSK, strings.NewReader(vectorNonce)); !errors.Is(err, ErrNotSealable) {
		t.Fatalf("Seal with a bad key id = %v", err)
	}
}

// TestLeafV3Golden checks the sealed golden event's leaf and that it opens.
func TestLeafV3Golden(t *testing.T) {
	want, err := os.ReadFile("testdata/leaf-v3.golden")
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseLeaf(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Open(vectorSK); err != nil {
		t.Fatal(err)
	}
	got, _ := back.Leaf()
	if want2, _ := goldenV2Event().Leaf(); !bytes.Equal(got, want2) {
		t.Fatalf("opened leaf\n%s\nwant the version 2 golden leaf\n%s", got, want2)
	}
}
