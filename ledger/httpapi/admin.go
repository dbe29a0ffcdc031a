package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ledger-dev/ledger/ledger/access"
)

// Event types of administration, appended for every admin request.
const (
	TokensListedEventType = "admin.tokens_listed"
	TokenCreatedEventType = "admin.token_created"
	TokenRevokedEventType = "admin.token_revoked"
)

const (
	// tokenResource is the resource type of admin events about tokens.
	tokenResource = "api_token"
	// maxAdminBodyBytes bounds an admin request body.
	maxAdminBodyBytes = 64 << 10
)

// tokenView is a token as the admin API shows it: no hash.
type tokenView struct {
	ID        string            `json:"id"`
	Name      string            `json:"name,omitempty"`
	Role      access.Role       `json:"role"`
	Tenant    string            `json:"tenant,omitempty"`
	Created   time.Time         `json:"created,omitzero"`
	Expires   time.Time         `json:"expires,omitzero"`
	Revoked   time.Time         `json:"revoked,omitzero"`
	RateLimit *access.RateLimit `json:"rate_limit,omitempty"`
	// Token is the secret, in the answer to its creation only.
	Token string `json:"token,omitempty"`
}

func viewOf(t access.Token) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, Role: t.Role, Tenant: t.Tenant, Created: t.Created, Expires: t.Expires, Revoked: t.Revoked, RateLimit: t.RateLimit}
}

// adminKeyring returns the keyring, or answers 404 when there is none (an
// open ledger has no admin API).
func (s *Server) adminKeyring(w http.ResponseWriter, r *http.Request) (*access.Keyring, bool) {
	if !s.authEnabled() {
		s.writeError(w, r, fmt.Errorf("%w: %s", errNotFound, "this ledger has no access control configured"))
		return nil, false
	}
	return s.cfg.Access, true
}

// listTokens answers GET /v1/admin/tokens.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	k, ok := s.adminKeyring(w, r)
	if !ok {
		return
	}
	tokens := k.Tokens()
	views := make([]tokenView, len(tokens))
	for i, t := range tokens {
		views[i] = viewOf(t)
	}
	n := len(views)
	if err := s.recordAccess(r, accessRecord{eventType: TokensListedEventType, action: "read", resourceType: tokenResource, resourceID: "*", count: &n}); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": views})
}

// createRequest is the body of POST /v1/admin/tokens.
type createRequest struct {
	Role      access.Role `json:"role"`
	Tenant    string      `json:"tenant"`
	Name      string      `json:"name"`
	ExpiresIn string      `json:"expires_in"` // a Go duration, e.g. "720h"; empty: never
}

// createToken answers POST /v1/admin/tokens with the new token's secret,
// shown this once. The token is revoked again if its creation cannot be
// logged.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	k, ok := s.adminKeyring(w, r)
	if !ok {
		return
	}
	var req createRequest
	if !s.decodeBody(w, r, &req, `{"role", "tenant", "name", "expires_in"}`) {
		return
	}
	var ttl time.Duration
	if req.ExpiresIn != "" {
		var err error
		if ttl, err = time.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 {
			s.writeError(w, r, fmt.Errorf("%w: expires_in %q is not a positive duration such as \"720h\"", errBadRequest, req.ExpiresIn))
			return
		}
	}
	if _, err := access.ParseRole(string(req.Role)); err != nil {
		s.writeError(w, r, fmt.Errorf("%w: role: %v", errBadRequest, err))
		return
	}
	secret, tok, err := k.Create(req.Role, req.Tenant, req.Name, ttl)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	rec := accessRecord{eventType: TokenCreatedEventType, action: "create", resourceType: tokenResource, resourceID: tok.ID,
		tags: map[string]string{"role": string(tok.Role), "tenant": tok.Tenant}}
	if err := s.recordAccess(r, rec); err != nil {
		if _, rerr := k.Revoke(tok.ID); rerr != nil {
			err = errors.Join(err, fmt.Errorf("and couldn't revoke the unlogged token %s: %w", tok.ID, rerr))
		}
		s.writeError(w, r, err)
		return
	}
	v := viewOf(tok)
	v.Token = secret
	writeJSON(w, http.StatusCreated, v)
}

// revokeToken answers DELETE /v1/admin/tokens/{id}.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	k, ok := s.adminKeyring(w, r)
	if !ok {
		return
	}
	tok, err := k.Revoke(chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rec := accessRecord{eventType: TokenRevokedEventType, action: "delete", resourceType: tokenResource, resourceID: tok.ID}
	if err := s.recordAccess(r, rec); err != nil {
		s.writeError(w, r, fmt.Errorf("token %s is revoked, but %w", tok.ID, err))
		return
	}
	writeJSON(w, http.StatusOK, viewOf(tok))
}

// decodeBody decodes an admin request's JSON body into v, refusing unknown
// members; shape names the members in the 400 it answers otherwise.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAdminBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.writeError(w, r, fmt.Errorf("%w: body must be %s: %v", errBadRequest, shape, err))
		return false
	}
	return true
}
