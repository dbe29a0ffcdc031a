package main_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	masterFile := filepath.Join(secrets, "master.key")
	if err := os.WriteFile(masterFile, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(secrets, "ledger.yaml")
	if err := os.WriteFile(conf, []byte("sealing:\n  master_key_file: "+masterFile+"\n  tags: [mrn]\n"), 0o600); err != nil {
		t.Fatal(err)
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
				Sealed *struct {
					KID string `json:"kid"`
				} `json:"sealed"`
			} `json:"event"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, b)
		}
		if !bytes.Contains(got.Leaf, []byte(want)) {
			t.Errorf("event %d: leaf %s, want %s", i, got.Leaf, want)
		}
		if (got.Event.Sealed != nil) != (want == `"v":3`) {
			t.Errorf("event %d: sealed member %+v in %s", i, got.Event.Sealed, b)
		}
		if got.Event.Sealed != nil {
			kids = append(kids, got.Event.Sealed.KID)
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
