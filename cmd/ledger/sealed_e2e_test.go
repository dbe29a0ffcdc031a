package main_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/longtest"
	"github.com/ledger-dev/ledger/internal/pgtest"
)

// TestSealedFields runs a real `ledger serve` with a sealing block: alice's
// and bob's emails and changes are logged sealed (leaf version 3), so that
// no file of the data directory holds them in clear; the events read with
// their sealed member; `verifier proof` verifies a sealed entry and says it
// is sealed, and `verifier audit` passes. Tenant health-a's events are
// sealed by its own fields and tags. A sealing block without a master key,
// or with a tenant sealing a field that cannot be, is a usage error, and
// without a block nothing is sealed (the other end-to-end tests).
func TestSealedFields(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	data, secrets := t.TempDir(), t.TempDir()
	// Tenant health-a seals its reason and diagnosis tag instead.
	conf := sealingConfigWith(t, secrets, "  tenants:\n    health-a: {fields: [reason], tags: [diagnosis]}\n")
	bad := filepath.Join(secrets, "bad.yaml")
	if err := os.WriteFile(bad, []byte("sealing:\n  tenants:\n    health-a: {fields: [actor.id]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, ledgerBin, "serve", "--init", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--config", bad); code != 2 || !strings.Contains(out, `tenants.health-a: field "actor.id" cannot be sealed`) {
		t.Fatalf("serve with a tenant sealing actor.id: exit %d\n%s", code, out)
	}
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
	// health-a's own sealing: its reason and diagnosis sealed, its email
	// (not one of its fields) and mrn (not one of its tags) in clear.
	code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", "",
		`{"tenant_id":"health-a","action":"read","actor":{"id":"dana","type":"user","email":"dana@clinic.example"},"resource":{"type":"chart"},"result":"success",`+
			`"reason":"dana-reason-x","tags":{"diagnosis":"dana-diagnosis-x","mrn":"MRN-77"}}`)
	var health ack
	if code != 200 || json.Unmarshal(b, &health) != nil {
		t.Fatalf("append to health-a: %d %s", code, b)
	}
	var healthEntry struct {
		Leaf []byte `json:"leaf"`
	}
	if err := json.Unmarshal(bodyOf(t, fmt.Sprintf("%sv1/events/%d", s.url, health.Index), ""), &healthEntry); err != nil {
		t.Fatal(err)
	}
	if l := healthEntry.Leaf; !bytes.Contains(l, []byte(`"v":3`)) || bytes.Contains(l, []byte("dana-reason-x")) || bytes.Contains(l, []byte("dana-diagnosis-x")) ||
		!bytes.Contains(l, []byte("dana@clinic.example")) || !bytes.Contains(l, []byte("MRN-77")) {
		t.Errorf("health-a's leaf, sealed by its own fields and tags: %s", l)
	}
	plaintext = append(plaintext, "dana-reason-x", "dana-diagnosis-x")
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
	return sealingConfigWith(t, dir, "")
}

// sealingConfigWith is sealingConfig with more YAML after the sealing
// block.
func sealingConfigWith(t *testing.T, dir, extra string) string {
	t.Helper()
	masterFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(masterFile, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "ledger.yaml")
	if err := os.WriteFile(conf, []byte("sealing:\n  master_key_file: "+masterFile+"\n  tags: [mrn]\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// erasureBackend is where an erasure e2e test keeps its log: the flags of
// `ledger serve`, and a dump of everything it stores outside the data
// directory (PostgreSQL's), empty on posix.
type erasureBackend struct {
	name string
	args func(t *testing.T) []string
	dump func(t *testing.T, args []string) []byte
}

var erasureBackends = []erasureBackend{
	{name: "posix", args: func(*testing.T) []string { return nil }, dump: func(*testing.T, []string) []byte { return nil }},
	{name: "postgres", args: func(t *testing.T) []string { return []string{"--postgres", pgtest.New(t)} }, dump: pgDump},
}

// pgDump returns pg_dump's dump of the database that args give `ledger
// serve` with --postgres.
func pgDump(t *testing.T, args []string) []byte {
	t.Helper()
	dsn := args[slices.Index(args, "--postgres")+1]
	bin := "pg_dump"
	if matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump"); len(matches) > 0 {
		bin = matches[len(matches)-1]
	}
	out, err := exec.Command(bin, "--dbname", dsn).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(out, []byte("subject_keys")) || !bytes.Contains(out, []byte("index_entries")) {
		t.Fatalf("the dump holds no subject_keys or index_entries table:\n%.2000s", out)
	}
	return out
}

// TestErasure is issue 15's acceptance test, on posix and on PostgreSQL,
// with the real binaries: alice's and bob's events are logged with sealed
// emails, changes and a tag; a legal hold on alice refuses her erasure
// with a 409 naming the hold, and carol's, whom it does not cover, goes
// through; once the hold is released her erasure succeeds, and run again
// answers the same key and appends nothing more. Then no byte of alice's
// plaintext is in any file of the data directory, nor in pg_dump of the
// database; bob's events read as before; her entry reads "erased"; a
// tlog-proof saved before the erasure still verifies, as does `verifier
// audit`; and the privacy.erasure_executed event, naming her key and the
// count of her events, is in the log once and its proof verifies.
func TestErasure(t *testing.T) {
	for _, b := range erasureBackends {
		t.Run(b.name, func(t *testing.T) { testErasure(t, b) })
	}
}

func testErasure(t *testing.T, backend erasureBackend) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	data := t.TempDir()
	writer := newToken(t, ledgerBin, data, "--role", "writer")
	admin := newToken(t, ledgerBin, data, "--role", "admin")
	auditor := newToken(t, ledgerBin, data, "--role", "auditor")
	args := append([]string{"--data", data, "--config", sealingConfig(t, t.TempDir()), "--origin", "example.com/erasure", "--publish-interval", "20ms"}, backend.args(t)...)
	s := startServer(t, ledgerBin, args...)
	alicePlain := []string{"alice@example.com", "alice-old-address", "alice-new-address", "MRN-1111"}
	bobPlain := []string{"bob@example.com", "bob-new-role", "MRN-2222"}
	// Her resource id is never sealed: the control that the greps below
	// find what is there in clear.
	const control = "profile-alice-4711"
	events := `[{"action":"update","actor":{"id":"alice","type":"user","email":"alice@example.com"},"resource":{"type":"profile","id":"` + control + `"},"result":"success",` +
		`"changes":{"address":{"old":"alice-old-address","new":"alice-new-address"}},"tags":{"mrn":"MRN-1111"}},` +
		`{"action":"update","actor":{"id":"bob","type":"user","email":"bob@example.com"},"resource":{"type":"profile","id":"p-2"},"result":"success",` +
		`"changes":{"role":{"new":"bob-new-role"}},"tags":{"mrn":"MRN-2222"}},` +
		`{"action":"update","actor":{"id":"carol","type":"user","email":"carol@example.com"},"resource":{"type":"profile","id":"p-3"},"result":"success"}]`
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
	aliceKID, bobKID, carolKID := kidOf("0"), kidOf("1"), kidOf("2")
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
	bobBefore := bodyOf(t, s.url+"v1/events/1", auditor)
	proofs := map[string]string{}
	for _, index := range []string{"0", "1"} {
		code, proof := call(t, http.DefaultClient, "GET", s.url+"v1/proof/"+index, auditor, "")
		proofs[index] = filepath.Join(t.TempDir(), index+".tlog-proof")
		if code != 200 || os.WriteFile(proofs[index], proof, 0o644) != nil {
			t.Fatalf("GET /v1/proof/%s: %d %s", index, code, proof)
		}
	}

	code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/holds", admin, `{"actor_id":"alice","reason":"case 7"}`)
	var h struct {
		ID string `json:"id"`
	}
	if code != 201 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("place hold: %d %s", code, b)
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", admin, `{"subject":"carol"}`); code != 200 || !strings.Contains(string(b), carolKID) {
		t.Fatalf("erasure of carol, whom the hold does not cover: %d %s", code, b)
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", admin, `{"subject":"alice"}`); code != 409 || !strings.Contains(string(b), h.ID) || !json.Valid(b) {
		t.Fatalf("erasure under a hold: %d %s; want 409 naming hold %s", code, b, h.ID)
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", writer, `{"subject":"alice"}`); code != 403 {
		t.Fatalf("erasure by a writer: %d %s", code, b)
	}
	if b := bodyOf(t, s.url+"v1/events/0", auditor); !bytes.Contains(b, []byte(`"email":"alice@example.com"`)) {
		t.Errorf("alice's event after the refused erasure: %s", b)
	}
	if code, b := call(t, http.DefaultClient, "DELETE", s.url+"v1/admin/holds/"+h.ID, admin, ""); code != 200 {
		t.Fatalf("release hold: %d %s", code, b)
	}
	// The count is of indexed events: wait for alice's to be.
	waitFor(t, s.url+"v1/events?actor_id=alice", auditor, "alice@example.com")
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", admin, `{"subject":"alice"}`); code != 200 ||
		!strings.Contains(string(b), `"kid":"`+aliceKID+`"`) || !strings.Contains(string(b), `"count":1`) {
		t.Fatalf("erasure of alice: %d %s", code, b)
	}
	// Run again, it answers the same key: it was erased, and its event is
	// in the log already.
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", admin, `{"subject":"alice"}`); code != 200 || !strings.Contains(string(b), `"kid":"`+aliceKID+`"`) {
		t.Fatalf("erasure of alice run again: %d %s", code, b)
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", admin, `{"subject":"nobody"}`); code != 404 {
		t.Fatalf("erasure of a subject without a key: %d %s", code, b)
	}

	erasureIndex := erasureEvent(t, s.url, auditor, aliceKID, `"count":"1"`)
	// After the erasure a reader sees the members that were never sealed and
	// "erased"; the leaf still verifies.
	for _, path := range []string{"v1/events/0", "v1/events?actor_id=alice", "v1/export?format=ndjson&since=2000-01-01T00:00:00Z&actor_id=alice", "v1/export?format=csv&since=2000-01-01T00:00:00Z&actor_id=alice"} {
		b := bodyOf(t, s.url+path, auditor)
		if bytes.Contains(b, []byte("alice@")) || !bytes.Contains(b, []byte(`"sealed":"erased"`)) && !bytes.Contains(b, []byte(`""sealed"":""erased""`)) || !bytes.Contains(b, []byte(`"id":"alice"`)) && !bytes.Contains(b, []byte(`""id"":""alice""`)) {
			t.Errorf("GET %s after alice's erasure: %s", path, b)
		}
	}
	if bobAfter := bodyOf(t, s.url+"v1/events/1", auditor); !bytes.Equal(bobAfter, bobBefore) {
		t.Errorf("bob's event changed with alice's erasure:\n%s\n%s", bobBefore, bobAfter)
	}
	for _, index := range []string{"0", "1"} {
		if out := verify(t, verifierBin, "proof", proofs[index], "--vkey", s.vkey); !strings.Contains(out, "ok sealed: inclusion verified") {
			t.Errorf("verifier proof of entry %s, saved before the erasure:\n%s", index, out)
		}
	}
	code, proof := call(t, http.DefaultClient, "GET", s.url+"v1/proof/"+erasureIndex, auditor, "")
	proofFile := filepath.Join(t.TempDir(), "erasure.tlog-proof")
	if code != 200 || os.WriteFile(proofFile, proof, 0o644) != nil {
		t.Fatalf("GET /v1/proof/%s: %d %s", erasureIndex, code, proof)
	}
	verify(t, verifierBin, "proof", proofFile, "--vkey", s.vkey)
	t.Setenv("LEDGER_TOKEN", auditor) // the verifier reads the entry bundles with it
	verify(t, verifierBin, "audit", "--log", s.url, "--vkey", s.vkey)

	stopServer(s)
	keysLeft := map[string]bool{}
	controlFound := false
	checkNoPlaintext := func(where string, b []byte) {
		for _, p := range alicePlain {
			if holdsText(b, p) {
				t.Errorf("%s holds alice's %q after her erasure", where, p)
			}
		}
		controlFound = controlFound || holdsText(b, control)
		if filepath.Base(where) != "subject-keys.json" {
			return
		}
		var doc struct {
			Keys []struct {
				KID string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		for _, k := range doc.Keys {
			keysLeft[k.KID] = true
		}
	}
	eachFile(t, data, checkNoPlaintext)
	if !controlFound && backend.name == "posix" {
		t.Errorf("no file of the data directory holds %q, which is in clear in the leaf: the grep proves nothing", control)
	}
	dump := backend.dump(t, args)
	if dump != nil {
		controlFound = false
		checkNoPlaintext("pg_dump", dump)
		if !controlFound {
			t.Errorf("pg_dump does not hold %q, which is in clear in the leaf: the grep proves nothing", control)
		}
		// The dump's subject_keys rows: bob's key only.
		rows := dump[bytes.Index(dump, []byte("COPY public.subject_keys ")):]
		rows = rows[:bytes.Index(rows, []byte("\\.\n"))]
		keysLeft = map[string]bool{}
		for _, kid := range []string{aliceKID, bobKID, carolKID} {
			keysLeft[kid] = bytes.Contains(rows, []byte(kid))
		}
		for _, p := range bobPlain {
			if holdsText(dump, p) {
				t.Errorf("pg_dump holds bob's %q in clear", p)
			}
		}
	}
	if keysLeft[aliceKID] || keysLeft[carolKID] || !keysLeft[bobKID] {
		t.Errorf("keys left after the erasures %v; want bob's (%s) only", keysLeft, bobKID)
	}
}

// holdsText reports whether b holds s, as text or as the hex digits that
// pg_dump writes a bytea column with.
func holdsText(b []byte, s string) bool {
	return bytes.Contains(b, []byte(s)) || bytes.Contains(b, []byte(hex.EncodeToString([]byte(s))))
}

// erasureEvent waits until the log's privacy.erasure_executed events hold
// exactly one naming key kid, with want among its tags, and no personal
// data; it returns that event's index.
func erasureEvent(t *testing.T, url, token, kid, want string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, b := call(t, http.DefaultClient, "GET", url+"v1/events?event_type=privacy.erasure_executed&resource_id="+kid, token, "")
		var got struct {
			Events []struct {
				Index uint64          `json:"index"`
				Event json.RawMessage `json:"event"`
			} `json:"events"`
		}
		json.Unmarshal(b, &got)
		if len(got.Events) == 1 && bytes.Contains(got.Events[0].Event, []byte(want)) && !bytes.Contains(b, []byte("@example.com")) {
			return fmt.Sprint(got.Events[0].Index)
		}
		if len(got.Events) > 1 || time.Now().After(deadline) {
			t.Fatalf("want one privacy.erasure_executed event naming %s with %s: %s", kid, want, b)
		}
	}
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

// TestErasureKilled kills `ledger serve` with SIGKILL while it erases a
// data subject, a few cycles on posix and on PostgreSQL (more with
// LEDGER_LONG_TESTS=1): after the restart the subject's event reads either
// in clear (the key was not destroyed yet) or erased, never its ciphertext
// nor half of it; running the erasure again completes it, and the log then
// holds exactly one privacy.erasure_executed event naming the key. At the
// end no subject's plaintext is in the data directory or the database, and
// the log passes `verifier audit`.
func TestErasureKilled(t *testing.T) {
	for _, b := range erasureBackends {
		t.Run(b.name, func(t *testing.T) { testErasureKilled(t, b, longtest.Count(3, 15)) })
	}
}

func testErasureKilled(t *testing.T, backend erasureBackend, cycles int) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	data := t.TempDir()
	writer := newToken(t, ledgerBin, data, "--role", "writer")
	privacy := newToken(t, ledgerBin, data, "--role", "privacy")
	auditor := newToken(t, ledgerBin, data, "--role", "auditor")
	args := append([]string{"--data", data, "--config", sealingConfig(t, t.TempDir()), "--origin", "example.com/erasure-killed", "--publish-interval", "20ms"}, backend.args(t)...)
	var emails []string
	var s *server
	for cycle := range cycles {
		s = startServer(t, ledgerBin, args...)
		subject := fmt.Sprintf("subject-%d", cycle)
		email := subject + "@example.com"
		emails = append(emails, email)
		code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", writer,
			fmt.Sprintf(`{"action":"update","actor":{"id":%q,"type":"user","email":%q},"resource":{"type":"profile"},"result":"success","changes":{"phone":{"new":"%s-phone"}}}`, subject, email, subject))
		var got ack
		if code != 200 || json.Unmarshal(b, &got) != nil {
			t.Fatalf("append: %d %s", code, b)
		}
		eventPath := fmt.Sprintf("v1/events/%d", got.Index)
		waitFor(t, s.url+"v1/events?actor_id="+subject, auditor, email) // indexed, for the count
		done := make(chan struct{})
		go func() { // its answer, if any, is not waited for: the server dies
			defer close(done)
			req, _ := http.NewRequest("POST", s.url+"v1/admin/erasures", strings.NewReader(fmt.Sprintf(`{"subject":%q}`, subject)))
			req.Header.Set("Authorization", "Bearer "+privacy)
			if resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond)
		s.cmd.Process.Kill() // SIGKILL, mid-erasure
		s.cmd.Wait()
		<-done

		s = startServer(t, ledgerBin, args...)
		b = bodyOf(t, s.url+eventPath, auditor)
		var entry struct {
			Leaf []byte `json:"leaf"`
		}
		if err := json.Unmarshal(b, &entry); err != nil || leafKID.FindSubmatch(entry.Leaf) == nil {
			t.Fatalf("cycle %d: %s's event is not sealed: %s", cycle, subject, b)
		}
		kid := string(leafKID.FindSubmatch(entry.Leaf)[1])
		open := bytes.Contains(b, []byte(`"sealed":"open"`)) && bytes.Contains(b, []byte(email))
		erased := bytes.Contains(b, []byte(`"sealed":"erased"`)) && !bytes.Contains(b, []byte(subject+"@")) && !bytes.Contains(b, []byte(subject+"-phone"))
		if open == erased {
			t.Fatalf("cycle %d: after the kill, %s reads neither in clear nor erased: %s", cycle, subject, b)
		}
		if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/erasures", privacy, fmt.Sprintf(`{"subject":%q}`, subject)); code != 200 || !strings.Contains(string(b), kid) {
			t.Fatalf("cycle %d: the erasure run again: %d %s", cycle, code, b)
		}
		if b := bodyOf(t, s.url+eventPath, auditor); !bytes.Contains(b, []byte(`"sealed":"erased"`)) || bytes.Contains(b, []byte(subject+"@")) {
			t.Fatalf("cycle %d: after the erasure run again: %s", cycle, b)
		}
		erasureEvent(t, s.url, auditor, kid, `"count":"1"`)
		t.Logf("cycle %d: the kill left the key %s", cycle, map[bool]string{true: "destroyed", false: "whole"}[erased])
		if cycle < cycles-1 {
			stopServer(s)
		}
	}
	t.Setenv("LEDGER_TOKEN", auditor)
	verify(t, verifierBin, "audit", "--log", s.url, "--vkey", s.vkey)
	stopServer(s)
	check := func(where string, b []byte) {
		for _, e := range emails {
			if holdsText(b, e) || holdsText(b, strings.TrimSuffix(e, "@example.com")+"-phone") {
				t.Errorf("%s holds %q's personal data after the erasures", where, e)
			}
		}
	}
	eachFile(t, data, check)
	if dump := backend.dump(t, args); dump != nil {
		check("pg_dump", dump)
	}
}

// TestShredAtMax runs crypto-shredding at max in a real `ledger serve`, on
// posix and on PostgreSQL, with periods in seconds: tenant "short" keeps
// its events at least 1s and at most 3s, tenant "long" an hour with no max.
// Once 3s have passed since alice's event, her key is destroyed on the
// schedule: her event reads erased, and a privacy.erasure_executed event
// with the reason "retention max" and the rule is in the log; bob's key
// (tenant long) stays; carol's, under a legal hold, stays until the hold is
// released, then goes. alice's next event is sealed under a new key, and
// the log passes `verifier audit`.
func TestShredAtMax(t *testing.T) {
	for _, b := range erasureBackends {
		t.Run(b.name, func(t *testing.T) { testShredAtMax(t, b) })
	}
}

func testShredAtMax(t *testing.T, backend erasureBackend) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	data := t.TempDir()
	writer := newToken(t, ledgerBin, data, "--role", "writer")
	admin := newToken(t, ledgerBin, data, "--role", "admin")
	auditor := newToken(t, ledgerBin, data, "--role", "auditor")
	conf := sealingConfigWith(t, t.TempDir(), "retention:\n  rules:\n    - {tenant: short, min: 1s, max: 3s}\n    - {tenant: long, min: 1h}\n")
	s := startServer(t, ledgerBin, append([]string{"--data", data, "--config", conf, "--origin", "example.com/shred", "--publish-interval", "20ms"}, backend.args(t)...)...)
	code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/holds", admin, `{"tenant_id":"short","actor_id":"carol","reason":"case 12"}`)
	var h struct {
		ID string `json:"id"`
	}
	if code != 201 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("place hold: %d %s", code, b)
	}
	event := func(tenant, actor string) string {
		return fmt.Sprintf(`{"tenant_id":%q,"action":"update","actor":{"id":%q,"type":"user","email":"%s@example.com"},"resource":{"type":"profile"},"result":"success"}`, tenant, actor, actor)
	}
	code, b = call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", writer, "["+event("short", "alice")+","+event("long", "bob")+","+event("short", "carol")+"]")
	if code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
	kidOf := func(index int) string {
		var entry struct {
			Leaf []byte `json:"leaf"`
		}
		if err := json.Unmarshal(bodyOf(t, fmt.Sprintf("%sv1/events/%d", s.url, index), auditor), &entry); err != nil || leafKID.FindSubmatch(entry.Leaf) == nil {
			t.Fatalf("event %d is not sealed: %v", index, err)
		}
		return string(leafKID.FindSubmatch(entry.Leaf)[1])
	}
	var acks []ack
	if err := json.Unmarshal(b, &acks); err != nil || len(acks) != 3 {
		t.Fatalf("append: %s", b)
	}
	aliceKID, carolKID := kidOf(int(acks[0].Index)), kidOf(int(acks[2].Index))
	waitFor(t, fmt.Sprintf("%sv1/events/%d", s.url, acks[0].Index), auditor, `"sealed":"erased"`)
	erasureEvent(t, s.url, auditor, aliceKID, `"reason":"retention max"`)
	erasureEvent(t, s.url, auditor, aliceKID, `"rule":"1"`)
	for _, a := range acks[1:] {
		if b := bodyOf(t, fmt.Sprintf("%sv1/events/%d", s.url, a.Index), auditor); !bytes.Contains(b, []byte(`"sealed":"open"`)) {
			t.Errorf("event %d, of tenant long or under a hold, after alice's key was shredded: %s", a.Index, b)
		}
	}
	if code, b := call(t, http.DefaultClient, "DELETE", s.url+"v1/admin/holds/"+h.ID, admin, ""); code != 200 {
		t.Fatalf("release hold: %d %s", code, b)
	}
	waitFor(t, fmt.Sprintf("%sv1/events/%d", s.url, acks[2].Index), auditor, `"sealed":"erased"`)
	erasureEvent(t, s.url, auditor, carolKID, `"reason":"retention max"`)
	if b := bodyOf(t, fmt.Sprintf("%sv1/events/%d", s.url, acks[1].Index), auditor); !bytes.Contains(b, []byte(`"email":"bob@example.com"`)) {
		t.Errorf("bob's event, of tenant long, after the shredding: %s", b)
	}

	code, b = call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", writer, event("short", "alice"))
	var again ack
	if code != 200 || json.Unmarshal(b, &again) != nil {
		t.Fatalf("append: %d %s", code, b)
	}
	if kid := kidOf(int(again.Index)); kid == aliceKID {
		t.Errorf("alice's next event is sealed under her shredded key %s", kid)
	}
	t.Setenv("LEDGER_TOKEN", auditor)
	verify(t, verifierBin, "audit", "--log", s.url, "--vkey", s.vkey)
}

// TestSharedSubjectKeys runs two `ledger serve` instances on one PostgreSQL
// database with sealing: an event of alice appended to each is sealed under
// the same key, both read it in clear, and once one instance erases her,
// the other reads her events erased. A key_file with --postgres is a
// usage error: the keys are in the database.
func TestSharedSubjectKeys(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	dsn, key, tokenDir := pgtest.New(t), newKey(t, ledgerBin, "example.com/shared-keys"), t.TempDir()
	writer := newToken(t, ledgerBin, tokenDir, "--role", "writer")
	privacy := newToken(t, ledgerBin, tokenDir, "--role", "privacy")
	auditor := newToken(t, ledgerBin, tokenDir, "--role", "auditor")
	conf := sealingConfig(t, t.TempDir())
	withFile := sealingConfigWith(t, t.TempDir(), "  key_file: /tmp/keys.json\n")
	if out, code := runCmd(t, ledgerBin, "serve", "--init", "--data", t.TempDir(), "--key", key, "--postgres", dsn, "--listen", "127.0.0.1:0", "--config", withFile); code != 2 || !strings.Contains(out, "with --postgres the subject keys are in the database") {
		t.Fatalf("serve --postgres with a key_file: exit %d\n%s", code, out)
	}
	var servers []*server
	var kids []string
	for i := range 2 {
		s := startServer(t, ledgerBin, "--data", t.TempDir(), "--key", key, "--postgres", dsn, "--tokens", filepath.Join(tokenDir, "tokens.json"),
			"--config", conf, "--publish-interval", "20ms")
		servers = append(servers, s)
		code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", writer,
			fmt.Sprintf(`{"id":"alice-%d","action":"login","actor":{"id":"alice","type":"user","email":"alice@example.com"},"resource":{"type":"session"},"result":"success"}`, i))
		var a ack
		if code != 200 || json.Unmarshal(b, &a) != nil {
			t.Fatalf("append to instance %d: %d %s", i, code, b)
		}
		var entry struct {
			Leaf []byte `json:"leaf"`
		}
		if err := json.Unmarshal(bodyOf(t, fmt.Sprintf("%sv1/events/%d", s.url, a.Index), auditor), &entry); err != nil || leafKID.FindSubmatch(entry.Leaf) == nil {
			t.Fatalf("instance %d: event %d is not sealed: %v", i, a.Index, err)
		}
		kids = append(kids, string(leafKID.FindSubmatch(entry.Leaf)[1]))
	}
	if kids[0] != kids[1] {
		t.Fatalf("alice's events on two instances are sealed under keys %s and %s; want one", kids[0], kids[1])
	}
	for _, s := range servers { // both events indexed, in clear
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if b := bodyOf(t, s.url+"v1/events?actor_id=alice", auditor); bytes.Count(b, []byte(`"email":"alice@example.com"`)) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer both of alice's events in clear", s.url)
			}
		}
	}
	if code, b := call(t, http.DefaultClient, "POST", servers[0].url+"v1/admin/erasures", privacy, `{"subject":"alice"}`); code != 200 || !strings.Contains(string(b), kids[0]) {
		t.Fatalf("erasure on instance 0: %d %s", code, b)
	}
	b := bodyOf(t, servers[1].url+"v1/events?actor_id=alice", auditor)
	if bytes.Contains(b, []byte("alice@example.com")) || bytes.Count(b, []byte(`"sealed":"erased"`)) != 2 {
		t.Errorf("instance 1 after the erasure on instance 0: %s", b)
	}
}

// TestShredKilled kills `ledger serve` with SIGKILL while it shreds keys at
// their retention max (2 cycles, 10 with LEDGER_LONG_TESTS=1): after the
// restart every due key is shredded, each with exactly one
// privacy.erasure_executed event, whether the kill came before a key's
// destruction, between it and its event, or after.
func TestShredKilled(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	data := t.TempDir()
	writer := newToken(t, ledgerBin, data, "--role", "writer")
	auditor := newToken(t, ledgerBin, data, "--role", "auditor")
	conf := sealingConfigWith(t, t.TempDir(), "retention:\n  rules:\n    - {tenant: short, min: 1s, max: 2s}\n")
	args := []string{"--data", data, "--config", conf, "--origin", "example.com/shred-killed", "--publish-interval", "20ms"}
	const subjects = 12
	var s *server
	for cycle := range longtest.Count(2, 10) {
		s = startServer(t, ledgerBin, args...)
		var batch []string
		for i := range subjects {
			batch = append(batch, fmt.Sprintf(`{"tenant_id":"short","action":"update","actor":{"id":"s%d-%d","type":"user","email":"s%d-%d@example.com"},"resource":{"type":"profile"},"result":"success"}`, cycle, i, cycle, i))
		}
		code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", writer, "["+strings.Join(batch, ",")+"]")
		var acks []ack
		if code != 200 || json.Unmarshal(b, &acks) != nil || len(acks) != subjects {
			t.Fatalf("append: %d %s", code, b)
		}
		// The keys fall due 2 to 2.2 s after the events; the kill comes
		// somewhere in the 0.4 s the runs take to shred them.
		time.Sleep(2*time.Second + time.Duration(rand.IntN(400))*time.Millisecond)
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s = startServer(t, ledgerBin, args...)
		for _, a := range acks {
			path := fmt.Sprintf("%sv1/events/%d", s.url, a.Index)
			waitFor(t, path, auditor, `"sealed":"erased"`)
			var entry struct {
				Leaf []byte `json:"leaf"`
			}
			if err := json.Unmarshal(bodyOf(t, path, auditor), &entry); err != nil || leafKID.FindSubmatch(entry.Leaf) == nil {
				t.Fatalf("event %d is not sealed: %v", a.Index, err)
			}
			erasureEvent(t, s.url, auditor, string(leafKID.FindSubmatch(entry.Leaf)[1]), `"reason":"retention max"`)
		}
		if cycle < longtest.Count(2, 10)-1 {
			stopServer(s)
		}
	}
	t.Setenv("LEDGER_TOKEN", auditor)
	verify(t, verifierBin, "audit", "--log", s.url, "--vkey", s.vkey)
}
