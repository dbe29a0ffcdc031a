package event

import (
	"fmt"
	"slices"
)

// The types of Submitter.
const (
	// SubmitterToken is a request authenticated by an API token.
	SubmitterToken = "token"
	// SubmitterOpen is a request to a ledger whose API is open (access
	// control off): no token was used, and nothing is known of the sender.
	SubmitterOpen = "open"
	// SubmitterLedger is the ledger itself: the events of its own
	// namespaces (see ReservedNamespaces), written by PrepareOwn.
	SubmitterLedger = "ledger"
)

// SubmitterTypes are the values of Submitter.Type.
var SubmitterTypes = []string{SubmitterToken, SubmitterOpen, SubmitterLedger}

// Submitter is who submitted an event, as the ledger knows it: never the
// token's secret, only its public id.
type Submitter struct {
	// Type is SubmitterToken, SubmitterOpen or SubmitterLedger.
	Type string `json:"type"`
	// TokenID is the id of the token (access.Token.ID), for SubmitterToken
	// only.
	TokenID string `json:"token_id,omitempty"`
	// Role is the token's role, for SubmitterToken only.
	Role string `json:"role,omitempty"`
	// TenantID is the tenant the token is confined to, if any, for
	// SubmitterToken only.
	TenantID string `json:"tenant_id,omitempty"`
}

// TokenSubmitter returns the Submitter of a request authenticated by the
// token with this id, role and tenant.
func TokenSubmitter(id, role, tenant string) Submitter {
	return Submitter{Type: SubmitterToken, TokenID: id, Role: role, TenantID: tenant}
}

// check reports what makes s unfit for a leaf: a type that is not one of
// SubmitterTypes, a token without id or role, or token members on a
// submitter that is not a token.
func (s Submitter) check() error {
	switch {
	case !slices.Contains(SubmitterTypes, s.Type):
		return fmt.Errorf("submitter.type must be one of token, open, ledger (got %s)", quote(s.Type))
	case s.Type == SubmitterToken && (s.TokenID == "" || s.Role == ""):
		return fmt.Errorf("a token submitter has a token_id and a role")
	case s.Type != SubmitterToken && (s.TokenID != "" || s.Role != "" || s.TenantID != ""):
		return fmt.Errorf("a submitter of type %s has no token_id, role or tenant_id", s.Type)
	}
	return nil
}
