package ledger

import (
	"fmt"
	"strings"

	"github.com/ledger-dev/ledger/tiles"
)

// LogKey names a log's key: a note.Signer and a note.Verifier both do.
type LogKey interface {
	Name() string
	KeyHash() uint32
}

// CheckWitnessPolicy checks that a witness policy can ever be met by this
// log's checkpoints: it must name the log (a `log` line with the vkey of
// signer; the policy verifies checkpoints against it), and, when it has a
// quorum, the witnesses with a URL (the only ones the ledger can ask) must
// be able to meet it. Without this a ledger would run with the quorum
// never met and nothing saying why.
func CheckWitnessPolicy(p *tiles.Policy, signer LogKey) error {
	var others []string
	found := false
	for _, l := range p.Logs {
		if l.Verifier.Name() == signer.Name() && l.Verifier.KeyHash() == signer.KeyHash() {
			found = true
			break
		}
		others = append(others, fmt.Sprintf("%s (key hash %08x)", l.Verifier.Name(), l.Verifier.KeyHash()))
	}
	if !found {
		which := "no log line"
		if len(others) > 0 {
			which = "log lines only for " + strings.Join(others, ", ")
		}
		return fmt.Errorf("the witness policy has %s, not for this log %s (key hash %08x): add the line \"log VKEY\" with this log's vkey (DIR/log.key.pub)", which, signer.Name(), signer.KeyHash())
	}
	if p.Quorum != nil && !reachable(p.Quorum) {
		return fmt.Errorf("the witness policy's quorum %q cannot be met by the witnesses it gives a URL for, the only ones the ledger can ask", p.Quorum.Name)
	}
	return nil
}

// reachable reports whether g can be satisfied by witnesses with a URL.
func reachable(g *tiles.Group) bool {
	n := 0
	for _, w := range g.Witnesses {
		if w.URL != "" {
			n++
		}
	}
	for _, sub := range g.Groups {
		if reachable(sub) {
			n++
		}
	}
	return n >= g.Threshold
}
