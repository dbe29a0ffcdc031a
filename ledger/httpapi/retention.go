package httpapi

import (
	"net/http"

	"github.com/ledger-dev/ledger/ledger/retention"
)

// retentionResource is the resource type of the retention policy in audit
// events.
const retentionResource = "retention_policy"

// showRetention answers GET /v1/admin/retention with the effective
// retention policy (retention.Policy's JSON form).
func (s *Server) showRetention(w http.ResponseWriter, r *http.Request) {
	p := s.cfg.Retention
	if p == nil {
		p = &retention.Policy{}
	}
	if err := s.recordAccess(r, accessRecord{action: "read", resourceType: retentionResource, resourceID: p.Digest()}); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
