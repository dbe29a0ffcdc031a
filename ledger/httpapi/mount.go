package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ledger-dev/ledger/ledger/access"
)

// Mount is a handler served by the Server's router under a path prefix,
// behind the same middleware as the API: a request ID, the bearer token
// check and its rate limit, the role check, audited access and the one
// error mapper. The web console is mounted so, and so is any later API.
//
// Every request a token makes to a mount with Roles is appended to the log
// as an audit.accessed event (action read for GET and HEAD, create for
// POST, update for PUT and PATCH, delete for DELETE; resource audit_log, its
// id the request's path) and waits until that event is durable, before
// Handler runs: a request that could not be logged is answered with an
// error and never reaches Handler. The event records that access was
// granted, not what Handler answered. A refused token leaves an event with
// result denied, as on the API. Requests to a public mount are not audited.
// With access control off (no tokens configured), every mount is open to
// anyone and nothing is audited.
//
// Handler sees the request's whole path (/console/app.js, not /app.js; wrap
// it in http.StripPrefix to drop Path), except that a chi router routes on
// the rest after Path (/app.js), as under chi's Mount; such a router that
// has no NotFound or MethodNotAllowed handler of its own inherits the API's.
// Handler finds its caller with CallerOf and answers errors with WriteError
// or NotFound, so they carry the same JSON body and status mapping as the
// API's.
type Mount struct {
	// Path is the prefix served, beginning and ending with "/", such as
	// "/console/". Its first segment must be neither one of the API's
	// (v1, tile, checkpoint, healthz, metrics) nor another mount's.
	// Requests for Path without its last "/" are not routed to Handler.
	Path string
	// Handler serves every request under Path. Required.
	Handler http.Handler
	// Roles are the token roles allowed; a request without a token is a
	// 401, one whose token has another role a 403. Empty: public, like
	// the checkpoint and tiles (a request with a bad token is still a 401).
	Roles []access.Role
	// Params are the query parameters of Handler whose values the access
	// event records; it records every other parameter by name only, its
	// value replaced with event.Redacted, since a query string may carry
	// a secret and the log keeps what it is given forever.
	Params []string
}

// apiSegments are the first path segments the API itself serves.
var apiSegments = []string{"v1", "tile", "checkpoint", "healthz", "metrics"}

// checkMounts validates the mounts of a Config.
func checkMounts(mounts []Mount) error {
	taken := map[string]bool{}
	for _, s := range apiSegments {
		taken[s] = true
	}
	for _, m := range mounts {
		if len(m.Path) < 3 || m.Path[0] != '/' || m.Path[len(m.Path)-1] != '/' || strings.Contains(m.Path, "//") {
			return fmt.Errorf("httpapi: mount path %q must be of the form /name/", m.Path)
		}
		if m.Handler == nil {
			return fmt.Errorf("httpapi: mount %s has no handler", m.Path)
		}
		first, _, _ := strings.Cut(m.Path[1:], "/")
		if taken[first] {
			return fmt.Errorf("httpapi: mount path %s overlaps the API or another mount under /%s", m.Path, first)
		}
		taken[first] = true
	}
	return nil
}

// mount serves m on r, inside the middleware r already has.
func (s *Server) mount(r chi.Router, m Mount) {
	mws := []func(http.Handler) http.Handler{s.withServer}
	if len(m.Roles) > 0 {
		mws = append(mws, s.require(m.Roles...), s.auditMounted(m.Params))
	}
	r.With(mws...).Mount(m.Path, m.Handler)
}

// withServer puts s in the request's context, for WriteError and NotFound.
func (s *Server) withServer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), serverKey, s)))
	})
}

// auditMounted appends the audit.accessed event of a request to a mount
// before the mounted handler answers it (see Mount), with the values of
// the query parameters params.
func (s *Server) auditMounted(params []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := s.recordAccess(r, accessRecord{action: actionOf(r.Method), resourceID: r.URL.Path, params: params}); err != nil {
				s.writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// WriteError answers err as the API answers its errors: the status its
// sentinel maps to (500 for any other error, which is logged), with the
// JSON body {"error": ..., "request_id": ...}. A mounted handler calls it
// for every error it answers; outside a Server's router, 5xx errors are
// logged to slog.Default().
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	serverOf(r).writeError(w, r, err)
}

// NotFound answers 404 with the API's JSON error body naming the path: what
// the router answers for a path nothing serves, and what a mounted handler
// answers for a path under its prefix that it does not serve.
func NotFound(w http.ResponseWriter, r *http.Request) { serverOf(r).notFound(w, r) }

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, fmt.Errorf("%w: %s", errNotFound, r.URL.Path))
}

// serverOf returns the Server whose router serves r, or one that only logs
// to slog.Default().
func serverOf(r *http.Request) *Server {
	if s, ok := r.Context().Value(serverKey).(*Server); ok {
		return s
	}
	return &Server{log: slog.Default()}
}
