package console

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/tiles/tilestest"
)

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestAssets checks what the handler serves: every asset with the strict
// CSP, the right types, no inline script and no other origin, the JSON
// documents, and 404s for the rest.
func TestAssets(t *testing.T) {
	_, vkey := tilestest.NewKey("example.com/console-test")
	h, err := New(Config{VKey: vkey, AccessControl: func() bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(assets, "assets/*")
	if err != nil || len(names) < 5 {
		t.Fatalf("assets: %v %v", names, err)
	}
	for _, name := range append(names, "") {
		if name == "assets/index.html" {
			continue // served as Path
		}
		path := Path + strings.TrimPrefix(name, "assets/")
		resp, body := get(t, h, path)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != contentSecurityPolicy {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
		ct := resp.Header.Get("Content-Type")
		switch {
		case strings.HasSuffix(path, ".js"):
			if !strings.HasPrefix(ct, "text/javascript") {
				t.Errorf("GET %s: Content-Type %s, want text/javascript for a module", path, ct)
			}
			// Imports are relative to the console: nothing from elsewhere.
			for _, m := range regexp.MustCompile(`(?m)^import .* from "([^"]+)";$`).FindAllStringSubmatch(body, -1) {
				if !strings.HasPrefix(m[1], "./") {
					t.Errorf("%s imports %s", path, m[1])
				}
			}
		case strings.HasSuffix(path, "/"), strings.HasSuffix(path, ".html"):
			if inline := regexp.MustCompile(`<script(?:[^>]*)>[^<]`).FindString(body); inline != "" {
				t.Errorf("GET %s has an inline script: %s", path, inline)
			}
		}
		if b := strings.ReplaceAll(body, `"http://www.w3.org/2000/svg"`, ""); strings.Contains(b, "http://") || strings.Contains(b, "https://") {
			t.Errorf("GET %s names another origin", path)
		}
	}
	if resp, body := get(t, h, Path+"../console/../console.go"); resp.StatusCode == 200 {
		t.Errorf("GET a path with ..: %s %s", resp.Status, body)
	}
	for _, path := range []string{Path + "nope.js", Path + "index.html", Path + "sub/"} {
		if resp, body := get(t, h, path); resp.StatusCode != 404 || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s: %s %s, want a JSON 404", path, resp.Status, body)
		}
	}
	var session struct {
		AccessControl bool `json:"access_control"`
		Token         any  `json:"token"`
	}
	if resp, body := get(t, h, Path+"session"); resp.StatusCode != 200 || json.Unmarshal([]byte(body), &session) != nil || !session.AccessControl || session.Token != nil {
		t.Errorf("GET session without a token: %s %s", resp.Status, body)
	}
	var trust struct{ VKey, Policy string }
	if _, body := get(t, h, Path+"trust"); json.Unmarshal([]byte(body), &trust) != nil || trust.VKey != vkey || trust.Policy != "" {
		t.Errorf("GET trust: %s", body)
	}
}

// TestAssetEncoding checks that assets are served gzipped to clients that
// take gzip, plain to others, and not again to a client that has them.
func TestAssetEncoding(t *testing.T) {
	_, vkey := tilestest.NewKey("example.com/console-test")
	h, err := New(Config{VKey: vkey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	plain, _ := fs.ReadFile(assets, "assets/verify.js")
	do := func(header ...string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+Path+"verify.js", nil)
		for i := 0; i < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, b := do("Accept-Encoding", "br, gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || len(b) >= len(plain) {
		t.Fatalf("with gzip accepted: %s, %d bytes of %d", resp.Header.Get("Content-Encoding"), len(b), len(plain))
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, plain) {
		t.Error("the gzipped asset is not the asset")
	}
	if resp, b := do("Accept-Encoding", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(b, plain) {
		t.Errorf("gzip refused: %s, %d bytes", resp.Header.Get("Content-Encoding"), len(b))
	}
	if resp, b := do("If-None-Match", resp.Header.Get("ETag")); resp.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Errorf("If-None-Match its ETag %s: %s", resp.Header.Get("ETag"), resp.Status)
	}
}

func TestRedirectRoot(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := RedirectRoot(next)
	for _, path := range []string{"/", "/console"} {
		if resp, _ := get(t, h, path); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != Path {
			t.Errorf("GET %s: %s to %q, want a redirect to %s", path, resp.Status, resp.Header.Get("Location"), Path)
		}
	}
	if resp, _ := get(t, h, "/checkpoint"); resp.StatusCode != http.StatusTeapot {
		t.Errorf("GET /checkpoint: %s, want it passed on", resp.Status)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	_, vkey := tilestest.NewKey("example.com/console-test")
	for _, c := range []Config{{}, {VKey: "nope"}, {VKey: vkey, Policy: "quorum nobody\n"}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted it", c)
		}
	}
}
