// Package console is the auditor's web console: a page, served by `ledger
// serve` at /console/, that finds events through the audited query API and
// verifies them in the browser against a log key and witness policy that
// the user pinned, trusting nothing the server says (docs/console.md).
//
// Its assets (HTML, CSS and JavaScript modules) are embedded in the binary
// and served as they are: there is no build step and nothing is loaded
// from elsewhere. The handler serves only the assets and two small JSON
// documents; every read of the log's data is made by the page itself,
// with the user's bearer token, to the ledger's API, which checks the
// token's role and appends an audit.accessed event for the read.
package console

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"

	"github.com/ledger-dev/ledger/ledger/httpapi"
	"github.com/ledger-dev/ledger/tiles"
)

// Path is where the console is mounted.
const Path = "/console/"

//go:embed assets
var assets embed.FS

// contentSecurityPolicy allows the page its own scripts, styles and API
// and nothing else: no inline script or style, no other origin, no frames.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Config configures the console's handler.
type Config struct {
	// VKey is the log's verifier key (signed-note vkey), shown on the
	// trust page for comparison with the key the user pinned. Required.
	VKey string
	// Policy is the ledger's witness policy (C2SP tlog-policy), shown
	// beside the user's. Empty: the ledger has no witnesses.
	Policy string
	// AccessControl reports whether the ledger checks tokens; with it
	// off, the page asks for none. Nil: off.
	AccessControl func() bool
}

// New validates cfg and returns the handler to mount at Path, as a public
// mount (httpapi.Mount with no Roles): the assets hold no data, and a
// browser cannot send a bearer token when it loads a page.
func New(cfg Config) (http.Handler, error) {
	if _, err := tiles.NewLogPolicy(cfg.VKey); err != nil {
		return nil, errors.New("console: Config.VKey is not a log vkey: " + err.Error())
	}
	if cfg.Policy != "" {
		if _, err := tiles.ParsePolicy([]byte(cfg.Policy)); err != nil {
			return nil, errors.New("console: Config.Policy: " + err.Error())
		}
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	files, err := loadAssets(sub)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path+"session", cfg.session)
	mux.HandleFunc("GET "+Path+"trust", cfg.trust)
	mux.HandleFunc("GET "+Path+"{$}", files["index.html"].serve)
	mux.HandleFunc("GET "+Path+"{file}", func(w http.ResponseWriter, r *http.Request) {
		// index.html is served as Path only, so the page has one address.
		if a, ok := files[r.PathValue("file")]; ok && r.PathValue("file") != "index.html" {
			a.serve(w, r)
			return
		}
		httpapi.NotFound(w, r)
	})
	mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) { httpapi.NotFound(w, r) })
	return secure(mux), nil
}

// secure sets the headers every answer of the console carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		// The assets change with the binary; revalidate instead of
		// running a stale page against a newer API.
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// session answers who the request's token is, so that the page shows only
// what that role may use. It reveals nothing the token's holder does not
// know: a bad token was already refused with a 401 by the API's
// authentication.
func (cfg Config) session(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"access_control": cfg.AccessControl != nil && cfg.AccessControl()}
	if t := httpapi.CallerOf(r); t != nil {
		body["token"] = map[string]any{"id": t.ID, "name": t.Name, "role": t.Role, "tenant": t.Tenant}
	}
	writeJSON(w, body)
}

// trust answers the server's copy of the log key and witness policy, which
// the page shows beside the pinned ones and never uses to verify.
func (cfg Config) trust(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]string{"vkey": cfg.VKey, "policy": cfg.Policy})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// RedirectRoot answers GET / (and GET /console, without its slash) with a
// redirect to the console, and passes every other request to next: a
// person who opens the ledger's address in a browser finds the console
// instead of a 404.
func RedirectRoot(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.URL.Path == "/" || r.URL.Path == strings.TrimSuffix(Path, "/")) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			http.Redirect(w, r, Path, http.StatusFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}
