package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ledger-dev/ledger/ledger/access"
	"github.com/ledger-dev/ledger/ledger/event"
)

// Errors of access control.
var (
	errUnauthorized = errors.New("unauthorized")
	errForbidden    = errors.New("forbidden")
	errRateLimited  = errors.New("rate limit exceeded")
)

// RequestIDHeader carries a request's ID, taken from the client when it
// sends a sane one, else made here; every response and log line has it.
const RequestIDHeader = "X-Request-Id"

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	principalKey
	serverKey // the *Server serving a mounted handler
)

// requestID gives every request an ID, in its context and in the
// X-Request-Id response header.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !requestIDRE.MatchString(id) {
			id = event.NewID()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func requestIDOf(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// CallerOf returns the token that authenticated r, or nil for a request
// without one (possible on public endpoints and mounts, and everywhere when
// access control is off). It is the request's own copy of the stored token,
// which never holds the secret.
func CallerOf(r *http.Request) *access.Token {
	p, _ := r.Context().Value(principalKey).(*access.Token)
	return p
}

// authEnabled reports whether tokens are checked.
func (s *Server) authEnabled() bool { return s.cfg.Access != nil && s.cfg.Access.Enabled() }

// authenticate checks the bearer token, if any, and its rate limit. A
// request without a token goes on anonymous (public endpoints serve it;
// the others answer 401); a bad, expired or revoked token is a 401 on every
// endpoint.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if !s.authEnabled() || h == "" {
			next.ServeHTTP(w, r)
			return
		}
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			s.writeError(w, r, fmt.Errorf("%w: the Authorization header must be \"Bearer <token>\"", errUnauthorized))
			return
		}
		tok, err := s.cfg.Access.Authenticate(strings.TrimSpace(secret))
		if err != nil {
			s.log.Warn("refused a token", "request_id", requestIDOf(r), "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
			s.writeError(w, r, fmt.Errorf("%w: %v", errUnauthorized, err))
			return
		}
		if wait, ok := s.limits.allow(tok, s.cfg.RateLimit); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			s.writeError(w, r, fmt.Errorf("%w for token %s; retry after %s", errRateLimited, tok.ID, wait.Round(time.Millisecond)))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, &tok)))
	})
}

// require lets through requests whose token has one of roles; with access
// control off, every request.
func (s *Server) require(roles ...access.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.permit(w, r, roles...) {
				next.ServeHTTP(w, r)
			}
		})
	}
}

// permit answers 401 or 403 and returns false unless the request's token
// has one of roles. A refusal of a valid token is itself audited.
func (s *Server) permit(w http.ResponseWriter, r *http.Request, roles ...access.Role) bool {
	if !s.authEnabled() {
		return true
	}
	p := CallerOf(r)
	names := make([]string, len(roles))
	for i, role := range roles {
		names[i] = string(role)
	}
	if p == nil {
		s.writeError(w, r, fmt.Errorf("%w: this endpoint needs a bearer token with role %s", errUnauthorized, strings.Join(names, " or ")))
		return false
	}
	if !slices.Contains(roles, p.Role) {
		s.deny(w, r, fmt.Sprintf("this endpoint needs role %s; the token has role %s", strings.Join(names, " or "), p.Role))
		return false
	}
	return true
}

// deny answers 403 and appends an audit.accessed event with result denied.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, reason string) {
	if p := CallerOf(r); p != nil {
		if err := s.recordAccess(r, accessRecord{action: actionOf(r.Method), result: "denied", reason: reason}); err != nil {
			s.log.Error("couldn't log a denied access", "request_id", requestIDOf(r), "err", err)
		}
	}
	s.writeError(w, r, fmt.Errorf("%w: %s", errForbidden, reason))
}

// scopedTenant returns the tenant a query reads: for a reader its own
// (asking for another is refused), else the one asked (empty: all).
func (s *Server) scopedTenant(w http.ResponseWriter, r *http.Request, asked string) (string, bool) {
	p := CallerOf(r)
	if !s.authEnabled() || p == nil || p.Role != access.Reader {
		return asked, true
	}
	if asked != "" && asked != p.Tenant {
		s.deny(w, r, fmt.Sprintf("tenant_id %q: this token reads tenant %q only", asked, p.Tenant))
		return "", false
	}
	return p.Tenant, true
}

// mayRead reports whether the request may see the entry leaf: an auditor
// any, a reader one of its own tenant. It answers 403 if not.
func (s *Server) mayRead(w http.ResponseWriter, r *http.Request, leaf []byte) bool {
	p := CallerOf(r)
	if !s.authEnabled() || p == nil || p.Role != access.Reader {
		return true
	}
	if ev, err := event.ParseLeaf(leaf); err == nil && ev.TenantID == p.Tenant {
		return true
	}
	s.deny(w, r, fmt.Sprintf("this entry is not of tenant %q, the only one this token reads", p.Tenant))
	return false
}

// writerTenant is the only tenant a tenant-scoped writer's events may name
// (event.Submission.Tenant); "" for any other caller.
func writerTenant(p *access.Token) string {
	if p == nil || p.Role != access.Writer {
		return ""
	}
	return p.Tenant
}

// submitterOf is who the leaf says submitted a request's events: the token
// that authenticated it, or no token (access control is off: a request
// without a token to an endpoint that needs one never gets this far).
func submitterOf(p *access.Token) event.Submitter {
	if p == nil {
		return event.Submitter{Type: event.SubmitterOpen}
	}
	return event.TokenSubmitter(p.ID, string(p.Role), p.Tenant)
}

// rateLimits holds a token bucket per token.
type rateLimits struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// allow takes one request from tok's bucket (its own limit, else def). It
// returns false and how long to wait when the bucket is empty.
func (rl *rateLimits) allow(tok access.Token, def access.RateLimit) (time.Duration, bool) {
	lim := def
	if tok.RateLimit != nil {
		lim = *tok.RateLimit
	}
	if lim.PerSecond <= 0 {
		return 0, true
	}
	rl.mu.Lock()
	l, ok := rl.limiters[tok.ID]
	if !ok || l.Limit() != rate.Limit(lim.PerSecond) || l.Burst() != lim.Burst {
		if rl.limiters == nil {
			rl.limiters = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Limit(lim.PerSecond), lim.Burst)
		rl.limiters[tok.ID] = l
	}
	rl.mu.Unlock()
	now := time.Now()
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// actionOf is the event action of a request refused before its handler
// ran, or of a request to a mount.
func actionOf(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodPut, http.MethodPatch:
		return "update"
	case http.MethodDelete:
		return "delete"
	}
	return "read"
}
