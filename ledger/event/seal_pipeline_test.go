package event_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
)

// TestPipelineSeals runs sealing through a Pipeline with a real key file:
// the leaf holds no plaintext, opens with the subject's key, is recognised
// when resent, and nothing is sealed when nothing is configured or set.
func TestPipelineSeals(t *testing.T) {
	ctx := context.Background()
	master, err := subjectkey.NewMasterKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := subjectkey.OpenFile(filepath.Join(t.TempDir(), "subjects.json"), master)
	if err != nil {
		t.Fatal(err)
	}
	p := event.NewPipeline(event.PipelineConfig{Seal: &event.SealConfig{
		Sealing: event.Sealing{Fields: event.DefaultSealedFields, Tags: []string{"mrn"}},
		Subject: "actor.id",
		Key:     subjectkey.KeyFunc(ctx, keys),
	}})
	body := `{"id":"e-1","tenant_id":"clinic","action":"read","actor":{"id":"alice","type":"user","email":"alice@example.com"},` +
		`"resource":{"type":"chart"},"result":"success","reason":"follow-up visit","tags":{"mrn":"MRN-99","ward":"b"}}`
	prepare := func(body string) event.Entry {
		t.Helper()
		b, err := p.Prepare(event.Submission{Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		return b.Entries[0]
	}
	e := prepare(body)
	for _, secret := range []string{"alice@example.com", "follow-up", "MRN-99"} {
		if strings.Contains(string(e.Leaf), secret) {
			t.Errorf("the leaf holds %q in clear: %s", secret, e.Leaf)
		}
	}
	ev, err := event.ParseLeaf(e.Leaf)
	if err != nil || ev.Version() != 3 || ev.Actor.ID != "alice" || ev.Tags["ward"] != "b" {
		t.Fatalf("ParseLeaf = %+v, %v; want version 3 with actor.id and ward in clear", ev, err)
	}
	kid := ev.Sealed.KID
	key, err := keys.Open(ctx, kid)
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Open(key); err != nil || ev.Actor.Email != "alice@example.com" || ev.Reason != "follow-up visit" || ev.Tags["mrn"] != "MRN-99" {
		t.Fatalf("Open = %v: %+v", err, ev)
	}
	if again := prepare(body); bytes.Equal(again.Leaf, e.Leaf) || !again.Same(e.Leaf) {
		t.Error("a resent sealed event is not recognised as the same (or was sealed under the same nonce)")
	}
	if other := prepare(strings.Replace(body, "follow-up", "other", 1)); other.Same(e.Leaf) {
		t.Error("an event with another sealed reason is taken for the same")
	}
	if _, err := keys.Destroy(ctx, "clinic", "alice", subjectkey.Why{Reason: "request"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Open(ctx, kid); !errors.Is(err, subjectkey.ErrErased) {
		t.Fatalf("Open after Destroy = %v", err)
	}
	if again := prepare(body); again.Same(e.Leaf) {
		t.Error("after erasure, a resend is taken for the same event sealed under the destroyed key")
	}

	plain := prepare(`{"tenant_id":"clinic","action":"read","actor":{"id":"bob","type":"user"},"resource":{"type":"chart"},"result":"success"}`)
	if !bytes.HasPrefix(plain.Leaf, []byte(`{"v":2,`)) {
		t.Errorf("an event with nothing to seal: %s", plain.Leaf)
	}
	off := event.NewPipeline(event.PipelineConfig{})
	b, err := off.Prepare(event.Submission{Body: []byte(body)})
	if err != nil || !bytes.HasPrefix(b.Entries[0].Leaf, []byte(`{"v":2,`)) || !bytes.Contains(b.Entries[0].Leaf, []byte("alice@example.com")) {
		t.Errorf("sealing off changed the leaf: %s, %v", b.Entries[0].Leaf, err)
	}

	byTag := event.NewPipeline(event.PipelineConfig{Seal: &event.SealConfig{
		Sealing: event.Sealing{Fields: event.DefaultSealedFields}, Subject: "tag:patient",
		Key: subjectkey.KeyFunc(ctx, keys),
	}})
	_, err = byTag.Prepare(event.Submission{Body: []byte(body)})
	var ee *event.Error
	if !errors.As(err, &ee) || !errors.Is(err, event.ErrInvalid) || !strings.Contains(err.Error()+ee.Details[0].Message, "data subject") {
		t.Fatalf("an event without its subject: %v", err)
	}
}

// TestPipelineSealsPerTenant seals what a tenant's override names in that
// tenant's events, and the default elsewhere.
func TestPipelineSealsPerTenant(t *testing.T) {
	master, err := subjectkey.NewMasterKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := subjectkey.OpenFile(filepath.Join(t.TempDir(), "subjects.json"), master)
	if err != nil {
		t.Fatal(err)
	}
	seal := &event.SealConfig{
		Sealing: event.Sealing{Fields: []string{"actor.email"}},
		Tenants: map[string]event.Sealing{"health-a": {Fields: []string{"reason"}, Tags: []string{"mrn"}}},
		Subject: "actor.id", Key: subjectkey.KeyFunc(context.Background(), keys),
	}
	if err := seal.Check(); err != nil {
		t.Fatal(err)
	}
	p := event.NewPipeline(event.PipelineConfig{Seal: seal})
	body := `{"tenant_id":"TENANT","action":"read","actor":{"id":"alice","type":"user","email":"alice@example.com"},` +
		`"resource":{"type":"chart"},"result":"success","reason":"follow-up visit","tags":{"mrn":"MRN-99"}}`
	for tenant, want := range map[string]struct{ sealed, clear []string }{
		"health-a": {sealed: []string{"follow-up", "MRN-99"}, clear: []string{"alice@example.com"}},
		"other":    {sealed: []string{"alice@example.com"}, clear: []string{"follow-up", "MRN-99"}},
	} {
		b, err := p.Prepare(event.Submission{Body: []byte(strings.Replace(body, "TENANT", tenant, 1))})
		if err != nil {
			t.Fatal(err)
		}
		leaf := string(b.Entries[0].Leaf)
		for _, s := range want.sealed {
			if strings.Contains(leaf, s) {
				t.Errorf("tenant %s: the leaf holds %q in clear: %s", tenant, s, leaf)
			}
		}
		for _, s := range want.clear {
			if !strings.Contains(leaf, s) {
				t.Errorf("tenant %s: the leaf lacks %q in clear: %s", tenant, s, leaf)
			}
		}
	}
	seal.Tenants["bad"] = event.Sealing{Fields: []string{"actor.id"}}
	if err := seal.Check(); err == nil || !strings.Contains(err.Error(), `tenant "bad"`) {
		t.Fatalf("Check of an override sealing actor.id = %v", err)
	}
}
