package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"

	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
)

// TestSealedAnswers seals dora's email and address with a real key file and
// reads her event through the API: a reader of her tenant sees them in
// clear ("sealed":"open") in the event, the query rows and the export, a
// reader of another tenant sees nothing, and after her erasure (by the
// privacy role, run twice, one event) the event is
// answered without them, "sealed":"erased", while its leaf, unchanged,
// still holds the ciphertext. Every JSON answer is checked against the
// OpenAPI document, strictly.
func TestSealedAnswers(t *testing.T) {
	keys := newKeyFile(t)
	s := newAccessServer(t, func(c *httpapi.Config) {
		c.Seal = &event.SealConfig{Sealing: event.Sealing{Fields: event.DefaultSealedFields}, Subject: "actor.id",
			Key: subjectkey.KeyFunc(context.Background(), keys)}
		c.SubjectKeys = keys
	})
	doc, err := httpapi.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(openAPIDoc(t, doc), config.WithStrictMode())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	get := func(caller, path string, status int) []byte {
		t.Helper()
		resp, body := s.do(t, caller, "GET", path, "", "")
		if resp.StatusCode != status {
			t.Fatalf("%s GET %s: %d %s, want %d", caller, path, resp.StatusCode, body, status)
		}
		if status == 200 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			req, _ := http.NewRequest("GET", s.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+s.tokens[caller])
			resp.Body = io.NopCloser(bytes.NewReader(body))
			if _, verrs := v.ValidateHttpRequestResponse(req, resp); len(verrs) > 0 {
				for _, e := range verrs {
					t.Errorf("%s GET %s: the document does not allow it: %s: %s\n%s", caller, path, e.Message, e.Reason, body)
				}
			}
		}
		return body
	}

	const email, ip = "dora@example.com", "203.0.113.77"
	ts := queryNow.Add(-24 * time.Hour).Format("2006-01-02T15:04:05Z07:00")
	code, _, b := s.call(t, writerAny, "POST", "/v1/events?wait=published",
		fmt.Sprintf(`{"tenant_id":"a","timestamp":%q,"action":"update","actor":{"id":"dora","type":"user","email":%q},"resource":{"type":"profile","id":"p-9"},"result":"success","ip_address":%q}`, ts, email, ip))
	var appended []struct {
		Index uint64 `json:"index"`
	}
	if code != 200 || json.Unmarshal(b, &appended) != nil && json.Unmarshal([]byte("["+string(b)+"]"), &appended) != nil || len(appended) != 1 {
		t.Fatalf("append: %d %s", code, b)
	}
	s.sync(t)
	path := fmt.Sprintf("/v1/events/%d", appended[0].Index)

	var entry struct {
		Leaf  []byte         `json:"leaf"`
		Event map[string]any `json:"event"`
	}
	if err := json.Unmarshal(get(readerA, path, 200), &entry); err != nil {
		t.Fatal(err)
	}
	if entry.Event["sealed"] != httpapi.SealedOpen || entry.Event["ip_address"] != ip || entry.Event["actor"].(map[string]any)["email"] != email {
		t.Errorf("reader of tenant a before the erasure: %v", entry.Event)
	}
	leaf := entry.Leaf
	if bytes.Contains(leaf, []byte(email)) || !bytes.Contains(leaf, []byte(`"sealed":`)) {
		t.Errorf("the leaf is not sealed: %s", leaf)
	}
	for _, q := range []string{"/v1/events?actor_id=dora", "/v1/export?format=ndjson&actor_id=dora", "/v1/export?format=csv&actor_id=dora"} {
		if b := get(auditor, q, 200); !bytes.Contains(b, []byte(email)) || !bytes.Contains(b, []byte(ip)) {
			t.Errorf("auditor GET %s before the erasure lacks the sealed members in clear: %s", q, b)
		}
	}
	// Asked for it, the event and the NDJSON export carry the event key,
	// which is the one derived from dora's key for this event.
	_, sk, err := keys.Key(context.Background(), "a", "dora", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	sealedEvent, err := event.ParseLeaf(leaf)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := sealedEvent.EventKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	var keyed struct {
		EventKey []byte `json:"event_key"`
	}
	if err := json.Unmarshal(get(readerA, path+"?event_key=true", 200), &keyed); err != nil || !bytes.Equal(keyed.EventKey, ek) {
		t.Errorf("event_key=true: %x, %v; want %x", keyed.EventKey, err, ek)
	}
	if b := get(readerA, path, 200); bytes.Contains(b, []byte("event_key")) {
		t.Errorf("an event key without event_key=true: %s", b)
	}
	if b := get(auditor, "/v1/export?format=ndjson&actor_id=dora&event_keys=true", 200); !bytes.Contains(b, []byte(`"event_key":"`+base64.StdEncoding.EncodeToString(ek)+`"`)) {
		t.Errorf("export with event_keys=true: %s", b)
	}
	if b := get(auditor, "/v1/export?format=csv&actor_id=dora&event_keys=true", 400); !bytes.Contains(b, []byte("event_keys")) {
		t.Errorf("a CSV export with event keys: %s", b)
	}
	if b := get(readerB, path, 403); bytes.Contains(b, []byte("dora")) {
		t.Errorf("a reader of tenant b was shown dora's event: %s", b)
	}
	if b := get(readerB, "/v1/events?actor_id=dora", 200); bytes.Contains(b, []byte("dora@")) {
		t.Errorf("a reader of tenant b queried dora's event: %s", b)
	}

	if code, _, b := s.call(t, adm, "DELETE", "/v1/admin/holds/"+s.victimHold, ""); code != 200 { // it covers tenant a
		t.Fatalf("release hold: %d %s", code, b)
	}
	// The privacy role erases; run again, the erasure appends nothing more.
	for range 2 {
		if code, _, b := s.call(t, dpo, "POST", "/v1/admin/erasures", `{"tenant_id":"a","subject":"dora"}`); code != 200 {
			t.Fatalf("erasure by the privacy role: %d %s", code, b)
		}
	}
	s.sync(t)
	// (Called directly: the strict validator takes a tag for an undeclared
	// member.)
	if _, _, b := s.call(t, auditor, "GET", "/v1/events?event_type=privacy.erasure_executed&since=2026-01-01T00:00:00Z&until=2026-06-01T00:00:00Z", ""); bytes.Count(b, []byte(`"reason":"request"`)) != 1 || !bytes.Contains(b, []byte(`"role":"privacy"`)) {
		t.Errorf("want one erasure event, by the privacy token: %s", b)
	}
	entry.Event = nil
	if err := json.Unmarshal(get(readerA, path, 200), &entry); err != nil {
		t.Fatal(err)
	}
	if entry.Event["sealed"] != httpapi.SealedErased || entry.Event["ip_address"] != nil || entry.Event["actor"].(map[string]any)["email"] != nil ||
		entry.Event["actor"].(map[string]any)["id"] != "dora" || entry.Event["action"] != "update" {
		t.Errorf("reader of tenant a after the erasure: %v", entry.Event)
	}
	if !bytes.Equal(entry.Leaf, leaf) {
		t.Errorf("the leaf changed with the erasure:\n%s\n%s", leaf, entry.Leaf)
	}
	for _, q := range []string{"/v1/events?actor_id=dora", "/v1/export?format=ndjson&actor_id=dora", "/v1/export?format=csv&actor_id=dora"} {
		if b := get(auditor, q, 200); bytes.Contains(b, []byte(email)) || bytes.Contains(b, []byte(ip)) || !bytes.Contains(b, []byte("erased")) {
			t.Errorf("auditor GET %s after the erasure: %s", q, b)
		}
	}
	// An erased event has no key left to give.
	for _, q := range []string{path + "?event_key=true", "/v1/export?format=ndjson&actor_id=dora&event_keys=true"} {
		if b := get(auditor, q, 200); bytes.Contains(b, []byte("event_key")) {
			t.Errorf("auditor GET %s after the erasure: %s", q, b)
		}
	}
}

// newKeyFile opens a subject-key file in a temporary directory under a
// fixed master key.
func newKeyFile(t *testing.T) *subjectkey.File {
	t.Helper()
	master, err := subjectkey.NewMasterKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := subjectkey.OpenFile(filepath.Join(t.TempDir(), "subject-keys.json"), master)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
