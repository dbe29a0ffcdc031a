package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ledger-dev/ledger/ledger/access"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a client that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, client *http.Client) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ledger test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// newToken runs `ledger token create` and returns the secret it printed.
func newToken(t *testing.T, bin, data string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"token", "create", "--data", data}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ledger token create %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func call(t *testing.T, c *http.Client, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestAccessControlE2E runs `ledger serve` over HTTPS with tokens from
// `ledger token create` and from a --config file, and checks what each
// kind of user sees: writers append, readers query their tenant, the
// verifier audits the log only with an auditor's token, a token revoked
// with the CLI stops working while the server runs, and the configured
// redaction keys are applied.
func TestAccessControlE2E(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	certFile, keyFile, client := selfSigned(t, dir)

	writer := newToken(t, ledgerBin, data, "--role", "writer", "--tenant", "clinic-1")
	reader := newToken(t, ledgerBin, data, "--role", "reader", "--tenant", "clinic-1")
	auditorSecret, auditorTok, err := access.Generate(access.Auditor, "", "external auditor", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conf := map[string]any{
		"tls":         map[string]string{"cert": certFile, "key": keyFile},
		"redact_keys": []string{"diagnosis"},
		"limits":      map[string]int{"max_batch": 5},
		"tokens":      []access.Token{auditorTok},
	}
	cb, err := yaml.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	confFile := filepath.Join(dir, "ledger.yaml")
	if err := os.WriteFile(confFile, cb, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, client, ledgerBin, "--data", data, "--config", confFile, "--origin", "example.com/access", "--publish-interval", "20ms")
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("server URL %s, want https", s.url)
	}

	ev := `{"action":"read","actor":{"id":"dr-who","type":"user"},"resource":{"type":"chart","id":"c-1"},"result":"success","tags":{"diagnosis":"flu"}}`
	if code, b := call(t, client, "POST", s.url+"v1/events?wait=published", "", ev); code != 401 {
		t.Fatalf("append without a token: %d %s", code, b)
	}
	code, b := call(t, client, "POST", s.url+"v1/events?wait=published", writer, ev)
	if code != 200 {
		t.Fatalf("writer append: %d %s", code, b)
	}
	if code, b := call(t, client, "POST", s.url+"v1/events", writer, "["+strings.Repeat(ev+",", 5)+ev+"]"); code != 413 || !strings.Contains(string(b), "5") {
		t.Fatalf("a batch over the configured max_batch: %d %s, want 413", code, b)
	}
	code, b = call(t, client, "GET", s.url+"v1/events/0", reader, "")
	var got struct {
		Event struct {
			TenantID string            `json:"tenant_id"`
			Tags     map[string]string `json:"tags"`
		} `json:"event"`
	}
	if code != 200 || json.Unmarshal(b, &got) != nil || got.Event.TenantID != "clinic-1" || got.Event.Tags["diagnosis"] != "[REDACTED]" {
		t.Fatalf("reader reading the event: %d %s, want tenant clinic-1 and the diagnosis redacted", code, b)
	}

	// The verifier needs an auditor's token for the entry bundles, and the
	// server's certificate.
	audit := func(token string) (string, error) {
		cmd := exec.Command(verifierBin, "audit", "--log", s.url, "--vkey", s.vkey)
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+certFile, "LEDGER_TOKEN="+token)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := audit(""); err == nil || !strings.Contains(out, "401") {
		t.Fatalf("verifier audit without a token: %v\n%s", err, out)
	}
	if out, err := audit(reader); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("verifier audit with a reader's token: %v\n%s", err, out)
	}
	if out, err := audit(auditorSecret); err != nil {
		t.Fatalf("verifier audit with the auditor's token: %v\n%s", err, out)
	}

	// An auditor exports an evidence package (filtered, and a range read
	// from the entry bundles) that the verifier checks offline; a reader
	// may not export.
	export := func(token string, args ...string) (string, error) {
		out := filepath.Join(t.TempDir(), "pkg")
		cmd := exec.Command(ledgerBin, append([]string{"export", "--url", s.url, "--out", out}, args...)...)
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+certFile, "LEDGER_TOKEN="+token)
		exported, err := cmd.CombinedOutput()
		if err != nil {
			return string(exported), err
		}
		b, err := exec.Command(verifierBin, "export", out, "--vkey", s.vkey).CombinedOutput()
		return string(exported) + string(b), err
	}
	// The index follows the log every 250 ms.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, b := call(t, client, "GET", s.url+"v1/events?actor_id=dr-who", auditorSecret, ""); strings.Contains(string(b), `"index":0`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the event is not in the query index after 5 s")
		}
	}
	if out, err := export(reader, "--actor-id", "dr-who"); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("a reader's export: %v\n%s", err, out)
	}
	if out, err := export(auditorSecret, "--actor-id", "dr-who"); err != nil || !strings.Contains(out, "exported 1 events") {
		t.Fatalf("an auditor's filtered export: %v\n%s", err, out)
	}
	if out, err := export(auditorSecret, "--from", "0", "--to", "1"); err != nil || !strings.Contains(out, "exported 1 events") {
		t.Fatalf("an auditor's range export: %v\n%s", err, out)
	}

	// A token revoked with the CLI stops working within the reload interval.
	list, _ := runCmd(t, ledgerBin, "token", "list", "--data", data)
	var readerID string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "reader" {
			readerID = f[0]
		}
	}
	if out, code := runCmd(t, ledgerBin, "token", "revoke", "--data", data, readerID); code != 0 {
		t.Fatalf("token revoke: %d %s", code, out)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _ := call(t, client, "GET", s.url+"v1/events/0", reader, ""); code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the revoked reader token still works after 5 s")
		}
	}
}
