package main_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSealedFields runs a real `ledger serve` with a sealing block: alice's
// and bob's emails and changes are logged sealed (leaf version 3), so that
// no file of the data directory holds them in clear; the events read with
// their sealed member; `verifier proof` verifies a sealed entry and says it
// is sealed, and `verifier audit` passes. A sealing block without a master
// key is a usage error, and without a block nothing is sealed (the other
// end-to-end tests).
func TestSealedFields(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	data, secrets := t.TempDir(), t.TempDir()
	conf := sealingConfig(t, secrets)
	noKey := filepath.Join(secrets, "nokey.yaml")
	if err := os.WriteFile(noKey, []byte("sealing:\n  subject: actor.id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LEDGER_MASTER_KEY", "")
	if out, code := runCmd(t, ledgerBin, "serve", "--init", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--config", noKey); code != 2 || !strings.Contains(out, "no master key") {
		t.Fatalf("serve with sealing and no master key: exit %d\n%s", code, out)
	}

	s := startServer(t, ledgerBin, "--data", data, "--config", conf, "--origin", "example.com/sealed", "--publish-interval", "20ms")
	plaintext := []string{"alice@example.com", "alice-old-address", "MRN-4242", "bob@example.com", "bob-new-role"}
	events := `[{"action":"update","actor":{"id":"alice","type":"user","email":"alice@example.com"},"resource":{"type":"profile","id":"p-1"},"result":"success",` +
		`"changes":{"address":{"old":"alice-old-address","new":"x"}},"tags":{"mrn":"MRN-4242","ward":"b"}},` +
		`{"action":"update","actor":{"id":"bob","type":"user","email":"bob@example.com"},"resource":{"type":"profile","id":"p-2"},"result":"success",` +
		`"changes":{"role":{"new":"bob-new-role"}}},` +
		`{"action":"read","actor":{"id":"carol","type":"user"},"resource":{"type":"profile","id":"p-3"},"result":"success"}]`
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", "", events); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	var kids []string
	for i, want := range []string{`"v":3`, `"v":3`, `"v":2`} {
		code, b := call(t, http.DefaultClient, "GET", s.url+"v1/events/"+string(rune('0'+i)), "", "")
		if code != 200 {
			t.Fatalf("GET event %d: %d %s", i, code, b)
		}
		var got struct {
			Leaf  []byte `json:"leaf"`
			Event struct {
				Sealed any `json:"sealed"`
				Actor  struct {
					Email string `json:"email"`
				} `json:"actor"`
			} `json:"event"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, b)
		}
		if !bytes.Contains(got.Leaf, []byte(want)) {
			t.Errorf("event %d: leaf %s, want %s", i, got.Leaf, want)
		}
		// A reader sees the sealed members in clear; the leaf keeps them sealed.
		if wantSealed := want == `"v":3`; (got.Event.Sealed == "open") != wantSealed || (got.Event.Sealed == nil) == wantSealed {
			t.Errorf("event %d: sealed %v in %s", i, got.Event.Sealed, b)
		}
		if i < 2 && got.Event.Actor.Email != plaintext[3*i] {
			t.Errorf("event %d: email %q in %s, want %q", i, got.Event.Actor.Email, b, plaintext[3*i])
		}
		if m := leafKID.FindSubmatch(got.Leaf); m != nil {
			kids = append(kids, string(m[1]))
		}
		if bytes.Contains(got.Leaf, []byte("@example.com")) {
			t.Errorf("event %d: leaf %s holds an email in clear", i, got.Leaf)
		}
	}
	if !bytes.Contains(bodyOf(t, s.url+"v1/events/0", ""), []byte(`"tags":{"mrn":"MRN-4242","ward":"b"}`)) {
		t.Error("event 0 is answered without its sealed tag in clear")
	}
	// Query results and both exports show them in clear too, but the index
	// holds only the leaf and columns that are never sealed.
	waitFor(t, s.url+"v1/events?actor_id=alice", "", "alice-old-address")
	for _, format := range []string{"ndjson", "csv"} {
		b := bodyOf(t, s.url+"v1/export?format="+format+"&since=2000-01-01T00:00:00Z", "")
		for _, p := range plaintext {
			if !bytes.Contains(b, []byte(p)) {
				t.Errorf("%s export lacks %q in clear:\n%s", format, p, b)
			}
		}
	}
	if len(kids) != 2 || kids[0] == kids[1] {
		t.Errorf("key ids %q: want one per subject", kids)
	}

	code, proof := call(t, http.DefaultClient, "GET", s.url+"v1/proof/0", "", "")
	proofFile := filepath.Join(t.TempDir(), "alice.tlog-proof")
	if code != 200 || os.WriteFile(proofFile, proof, 0o644) != nil {
		t.Fatalf("GET /v1/proof/0: %d %s", code, proof)
	}
	if out := verify(t, verifierBin, "proof", proofFile, "--vkey", s.vkey); !strings.Contains(out, "ok sealed: inclusion verified; members of the event are sealed under subject key "+kids[0]) {
		t.Errorf("verifier proof of a sealed entry:\n%s", out)
	}
	verify(t, verifierBin, "audit", "--log", s.url, "--vkey", s.vkey)
	// A filtered evidence package holds the events as their leaves do,
	// sealed, so that `verifier export` checks each against its leaf.
	pkg := filepath.Join(t.TempDir(), "alice-package")
	if out, code := runCmd(t, ledgerBin, "export", "--url", s.url, "--out", pkg, "--actor-id", "alice", "--since", "2000-01-01T00:00:00Z", "--vkey", s.vkey); code != 0 {
		t.Fatalf("ledger export --actor-id alice: exit %d\n%s", code, out)
	}
	verify(t, verifierBin, "export", pkg, "--vkey", s.vkey)
	eachFile(t, pkg, func(path string, b []byte) {
		if bytes.Contains(b, []byte("alice@example.com")) {
			t.Errorf("%s of the evidence package holds alice's email in clear", path)
		}
	})

	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
	var keyFile bool
	eachFile(t, data, func(path string, b []byte) {
		for _, p := range plaintext {
			if bytes.Contains(b, []byte(p)) {
				t.Errorf("%s holds %q in clear", path, p)
			}
		}
		if filepath.Base(path) == "subject-keys.json" {
			keyFile = true
			if fi, err := os.Stat(path); err != nil {
				t.Error(err)
			} else if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
			}
		}
	})
	if !keyFile {
		t.Error("no subject-keys.json in the data directory")
	}
}

// sealingConfig writes a master key and a configuration file sealing the
// default fields and the tag mrn into dir, apart from the data directory,
// and returns the configuration's path.
func sealingConfig(t *testing.T, dir string) string {
	t.Helper()
	masterFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(masterFile, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "ledger.yaml")
	if err := os.WriteFile(conf, []byte("sealing:\n  master_key_file: "+masterFile+"\n  tags: [mrn]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// TestErasure erases a data subject through the admin API of a real
// `ledger serve` with access control and sealing: a legal hold on alice
// refuses it (409 naming the hold) until released; then her key is
// destroyed (gone from the key file, bob's kept), a run again answers the
// same key id, the privacy.erasure_executed event naming it is in the log,
// and `verifier audit` passes over the sealed events whose key is gone.
func TestErasure(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	data := t.TempDir()
	writer := newToken(t, ledgerBin, data, "--role", "writer")
	admin := newToken(t, ledgerBin, data, "--role", "admin")
	auditor := newToken(t, ledgerBin, data, "--role", "auditor")
	s := startServer(t, ledgerBin, "--data", data, "--config", sealingConfig(t, t.TempDir()), "--origin", "example.com/erasure", "--publish-interval", "20ms")
	events := `[{"action":"update","actor":{"id":"alice","type":"user","email":"alice@example.com"},"resource":{"type":"profile"},"result":"success"},` +
		`{"action":"update","actor":{"id":"bob","type":"user","email":"bob@example.com"},"resource":{"type":"profile"},"result":"success"}]`
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", writer, events); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	kidOf := func(index string) string {
		code, b := call(t, http.DefaultClient, "GET", s.url+"v1/events/"+index, auditor, "")
		var got struct {
			Leaf []byte `json:"leaf"`
		}
		if code != 200 || json.Unmarshal(b, &got) != nil || leafKID.FindSubmatch(got.Leaf) == nil {
			t.Fatalf("GET event %s: %d %s", index, code, b)
		}
		return string(leafKID.FindSubmatch(got.Leaf)[1])
	}
	aliceKID, bobKID := kidOf("0"), kidOf("1")
	// The auditor reads alice's email before her erasure; a writer, who may
	// not read, sees nothing of it.
	if b := bodyOf(t, s.url+"v1/events/0", auditor); !bytes.Contains(b, []byte(`"email":"alice@example.com"`)) || !bytes.Contains(b, []byte(`"sealed":"open"`)) {
		t.Errorf("the auditor's read of alice's event before her erasure: %s", b)
	}
	for _, path := range []string{"v1/events/0", "v1/events?actor_id=alice", "v1/export?format=ndjson&since=2000-01-01T00:00:00Z"} {
		if code, b := call(t, http.DefaultClient, "GET", s.url+path, writer, ""); code != 403 || bytes.Contains(b, []byte("alice@")) {
			t.Errorf("GET %s by a writer: %d %s; want 403 and nothing of alice's", path, code, b)
		}
	}

	code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/holds", admin, `{"actor_id":"alice","reason":"case 7"}`)
	var h struct {
		ID string `json:"id"`
	}
	if code != 201 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("place hold: %d %s", code, b)
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", admin, `{"subject":"bob"}`); code != 200 || !strings.Contains(string(b), bobKID) {
		t.Fatalf("erasure of bob, whom the hold does not cover: %d %s", code, b)
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", admin, `{"subject":"alice"}`); code != 409 || !strings.Contains(string(b), h.ID) {
		t.Fatalf("erasure under a hold: %d %s; want 409 naming hold %s", code, b, h.ID)
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", writer, `{"subject":"alice"}`); code != 403 {
		t.Fatalf("erasure by a writer: %d %s", code, b)
	}
	if code, b := call(t, http.DefaultClient, "DELETE", s.url+"v1/admin/holds/"+h.ID, admin, ""); code != 200 {
		t.Fatalf("release hold: %d %s", code, b)
	}
	// The count is of indexed events: wait for alice's to be.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, b := call(t, http.DefaultClient, "GET", s.url+"v1/events?actor_id=alice", auditor, ""); strings.Contains(string(b), "alice@example.com") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("alice's event is not in the index")
		}
	}
	for range 2 { // the second run answers the same: an erasure can be run again
		if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", admin, `{"subject":"alice"}`); code != 200 ||
			!strings.Contains(string(b), `"kid":"`+aliceKID+`"`) || !strings.Contains(string(b), `"count":1`) {
			t.Fatalf("erasure of alice: %d %s", code, b)
		}
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", admin, `{"subject":"nobody"}`); code != 404 {
		t.Fatalf("erasure of a subject without a key: %d %s", code, b)
	}
	keys, err := os.ReadFile(filepath.Join(data, "subject-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(keys, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range doc.Keys {
		if k.KID == aliceKID || k.KID == bobKID {
			t.Errorf("key %s is still in the key file after its erasure", k.KID)
		}
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		_, b := call(t, http.DefaultClient, "GET", s.url+"v1/events?event_type=privacy.erasure_executed", auditor, "")
		if strings.Contains(string(b), `"kid":"`+aliceKID+`"`) && strings.Contains(string(b), `"count":"1"`) && !strings.Contains(string(b), "alice@") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no privacy.erasure_executed event naming %s in the log: %s", aliceKID, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// After the erasure a reader sees the members that were never sealed and
	// "erased"; the leaf still verifies.
	for _, path := range []string{"v1/events/0", "v1/events?actor_id=alice", "v1/export?format=ndjson&since=2000-01-01T00:00:00Z&actor_id=alice", "v1/export?format=csv&since=2000-01-01T00:00:00Z&actor_id=alice"} {
		b := bodyOf(t, s.url+path, auditor)
		if bytes.Contains(b, []byte("alice@")) || !bytes.Contains(b, []byte(`"sealed":"erased"`)) && !bytes.Contains(b, []byte(`""sealed"":""erased""`)) || !bytes.Contains(b, []byte(`"id":"alice"`)) && !bytes.Contains(b, []byte(`""id"":""alice""`)) {
			t.Errorf("GET %s after alice's erasure: %s", path, b)
		}
	}
	code, proof := call(t, http.DefaultClient, "GET", s.url+"v1/proof/0", auditor, "")
	proofFile := filepath.Join(t.TempDir(), "alice.tlog-proof")
	if code != 200 || os.WriteFile(proofFile, proof, 0o644) != nil {
		t.Fatalf("GET /v1/proof/0 after the erasure: %d %s", code, proof)
	}
	if out := verify(t, verifierBin, "proof", proofFile, "--vkey", s.vkey); !strings.Contains(out, "ok sealed: inclusion verified") {
		t.Errorf("verifier proof of an erased entry:\n%s", out)
	}
	t.Setenv("LEDGER_TOKEN", auditor) // the verifier reads the entry bundles with it
	verify(t, verifierBin, "audit", "--log", s.url, "--vkey", s.vkey)
}

// leafKID finds the subject key id in a sealed leaf.
var leafKID = regexp.MustCompile(`"kid":"([0-9a-f]{32})"`)

// bodyOf GETs url with token and returns the body of its 200 answer.
func bodyOf(t *testing.T, url, token string) []byte {
	t.Helper()
	code, b := call(t, http.DefaultClient, "GET", url, token, "")
	if code != 200 {
		t.Fatalf("GET %s: %d %s", url, code, b)
	}
	return b
}

// waitFor waits until the 200 answer to GET url holds want.
func waitFor(t *testing.T, url, token, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, b := call(t, http.DefaultClient, "GET", url, token, ""); code == 200 && bytes.Contains(b, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s never answered %q", url, want)
		}
	}
}
