package tiles

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Policy is a C2SP tlog-policy: the logs and witnesses a verifier trusts and
// the quorum of witnesses a checkpoint needs.
type Policy struct {
	Logs      []Log
	Witnesses []*Witness
	// Quorum is the group (or single witness, as a one-member group) whose
	// threshold must be met; nil means "quorum none".
	Quorum *Group
}

// Log is a log trusted by a policy.
type Log struct {
	Verifier note.Verifier // Ed25519 (0x01); its name is the log's origin
	VKey     string
	URL      string // optional
}

// Witness is a witness known to a policy.
type Witness struct {
	Name     string // the policy's name for it
	Verifier *CosignatureVerifier
	URL      string // optional submission prefix
}

// Group is satisfied when at least Threshold of its members are: a witness
// member is satisfied by a valid cosignature, a group member recursively.
type Group struct {
	Name      string
	Threshold int
	Witnesses []*Witness
	Groups    []*Group
}

// maxPolicySize bounds a policy file.
const maxPolicySize = 1 << 20

// NewLogPolicy returns a policy that trusts one log key and needs no witnesses.
func NewLogPolicy(vkey string) (*Policy, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("bad log vkey %q: %w", vkey, err)
	}
	return &Policy{Logs: []Log{{Verifier: v, VKey: vkey}}}, nil
}

// ParsePolicy parses a tlog-policy file: "log <vkey> [url]", "witness <name>
// <vkey> [url]", "group <name> all|any|<k> <member>...", and exactly one
// "quorum <name>|none" line; "#" comments and blank lines are ignored. Groups
// and the quorum may only name witnesses and groups defined on earlier lines.
func ParsePolicy(data []byte) (*Policy, error) {
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("policy is %d bytes, more than %d", len(data), maxPolicySize)
	}
	if err := checkControlBytes(data, "policy"); err != nil {
		return nil, err
	}
	p := &Policy{}
	pp := policyParser{policy: p, witnesses: map[string]*Witness{}, groups: map[string]*Group{}, keys: map[string]string{}}
	quorumSeen := false
	for i, line := range bytes.Split(data, []byte("\n")) {
		fields := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		var err error
		switch fields[0] {
		case "log":
			err = pp.log(fields[1:])
		case "witness":
			err = pp.witness(fields[1:])
		case "group":
			err = pp.group(fields[1:])
		case "quorum":
			if quorumSeen {
				err = errors.New("a second quorum line")
				break
			}
			quorumSeen = true
			err = pp.quorum(fields[1:])
		default:
			err = fmt.Errorf("unknown keyword %q", fields[0])
		}
		if err != nil {
			return nil, fmt.Errorf("policy line %d: %w", i+1, err)
		}
	}
	if !quorumSeen {
		return nil, errors.New("policy has no quorum line")
	}
	return p, nil
}

// checkControlBytes refuses control characters other than tab and newline.
func checkControlBytes(data []byte, what string) error {
	for i, c := range data {
		if c < 0x20 && c != '\t' && c != '\n' || c == 0x7f {
			return fmt.Errorf("%s has control byte 0x%02x at offset %d", what, c, i)
		}
	}
	return nil
}

type policyParser struct {
	policy    *Policy
	witnesses map[string]*Witness
	groups    map[string]*Group
	keys      map[string]string // raw public key -> the line that defined it
}

func (pp *policyParser) claimKey(vkey, what string) error {
	_, _, key, err := parseVKey(vkey)
	if err != nil {
		return err
	}
	raw := string(key[1:])
	if prev, ok := pp.keys[raw]; ok {
		return fmt.Errorf("%s reuses the public key of %s", what, prev)
	}
	pp.keys[raw] = what
	return nil
}

func (pp *policyParser) log(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("want: log <vkey> [url]")
	}
	v, err := note.NewVerifier(args[0])
	if err != nil {
		return fmt.Errorf("log vkey %q: %w", args[0], err)
	}
	if err := pp.claimKey(args[0], "log "+v.Name()); err != nil {
		return err
	}
	l := Log{Verifier: v, VKey: args[0]}
	if len(args) == 2 {
		l.URL = args[1]
	}
	pp.policy.Logs = append(pp.policy.Logs, l)
	return nil
}

func (pp *policyParser) defined(name string) bool {
	return pp.witnesses[name] != nil || pp.groups[name] != nil || name == "none"
}

func (pp *policyParser) witness(args []string) error {
	if len(args) < 2 || len(args) > 3 {
		return errors.New("want: witness <name> <vkey> [url]")
	}
	if pp.defined(args[0]) {
		return fmt.Errorf("name %q is already defined", args[0])
	}
	v, err := NewCosignatureVerifier(args[1])
	if err != nil {
		return fmt.Errorf("witness %s: %w", args[0], err)
	}
	if err := pp.claimKey(args[1], "witness "+args[0]); err != nil {
		return err
	}
	w := &Witness{Name: args[0], Verifier: v}
	if len(args) == 3 {
		w.URL = args[2]
	}
	pp.witnesses[w.Name] = w
	pp.policy.Witnesses = append(pp.policy.Witnesses, w)
	return nil
}

func (pp *policyParser) group(args []string) error {
	if len(args) < 3 {
		return errors.New("want: group <name> all|any|<k> <member> [<member> ...]")
	}
	name, members := args[0], args[2:]
	if pp.defined(name) {
		return fmt.Errorf("name %q is already defined", name)
	}
	g := &Group{Name: name}
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m] {
			return fmt.Errorf("group %s lists %q twice", name, m)
		}
		seen[m] = true
		switch {
		case pp.witnesses[m] != nil:
			g.Witnesses = append(g.Witnesses, pp.witnesses[m])
		case pp.groups[m] != nil:
			g.Groups = append(g.Groups, pp.groups[m])
		default:
			return fmt.Errorf("group %s: member %q is not a witness or group defined above", name, m)
		}
	}
	switch args[1] {
	case "all":
		g.Threshold = len(members)
	case "any":
		g.Threshold = 1
	default:
		k, err := parseCanonical(args[1], uint64(len(members)))
		if err != nil || k < 1 {
			return fmt.Errorf("group %s: threshold %q must be all, any or 1..%d", name, args[1], len(members))
		}
		g.Threshold = int(k)
	}
	pp.groups[name] = g
	return nil
}

func (pp *policyParser) quorum(args []string) error {
	if len(args) != 1 {
		return errors.New("want: quorum <name>|none")
	}
	switch name := args[0]; {
	case name == "none":
	case pp.groups[name] != nil:
		pp.policy.Quorum = pp.groups[name]
	case pp.witnesses[name] != nil:
		pp.policy.Quorum = &Group{Name: name, Threshold: 1, Witnesses: []*Witness{pp.witnesses[name]}}
	default:
		return fmt.Errorf("quorum %q is not a witness or group defined above", name)
	}
	return nil
}

// Satisfied reports whether the witnesses whose names are in signed meet g.
func (g *Group) Satisfied(signed map[string]bool) bool {
	n := 0
	for _, w := range g.Witnesses {
		if signed[w.Name] {
			n++
		}
	}
	for _, sub := range g.Groups {
		if sub.Satisfied(signed) {
			n++
		}
	}
	return n >= g.Threshold
}

// Verify opens a signed checkpoint under the policy. The log signature must
// verify (see OpenCheckpoint). Each cosignature from a known witness is then
// verified on its own, so one bad line cannot sink the note, and the quorum is
// evaluated. If only the quorum fails, Verify returns the checkpoint together
// with an error wrapping ErrQuorumNotMet, so callers can report who did sign.
func (p *Policy) Verify(msg []byte) (*SignedCheckpoint, error) {
	logs := make([]note.Verifier, len(p.Logs))
	for i, l := range p.Logs {
		logs[i] = l.Verifier
	}
	sc, n, err := OpenCheckpoint(msg, logs...)
	if err != nil {
		return nil, err
	}
	signed := map[string]bool{}
	for _, sig := range n.UnverifiedSigs {
		w := p.witness(sig.Name, sig.Hash)
		if w == nil {
			continue // SPEC: clients MUST ignore unknown signatures.
		}
		if !verifyLine(w.Verifier, sc.Text, sig) {
			sc.Invalid = append(sc.Invalid, w.Name)
			continue
		}
		t, err := CosignatureTime(sig)
		if err != nil || signed[w.Name] {
			continue
		}
		signed[w.Name] = true
		sc.Cosignatures = append(sc.Cosignatures, Cosignature{Witness: w.Name, KeyName: sig.Name, Time: t})
	}
	if p.Quorum != nil && !p.Quorum.Satisfied(signed) {
		return sc, fmt.Errorf("%w: %d valid cosignatures do not satisfy %s", ErrQuorumNotMet, len(sc.Cosignatures), p.Quorum)
	}
	return sc, nil
}

func (p *Policy) witness(name string, id uint32) *Witness {
	for _, w := range p.Witnesses {
		if w.Verifier.Name() == name && w.Verifier.KeyHash() == id {
			return w
		}
	}
	return nil
}

// verifyLine checks one signature line against v.
func verifyLine(v note.Verifier, text []byte, sig note.Signature) bool {
	raw, err := base64.StdEncoding.DecodeString(sig.Base64)
	if err != nil || len(raw) < 5 || binary.BigEndian.Uint32(raw) != v.KeyHash() {
		return false
	}
	return v.Verify(text, raw[4:])
}

// String formats the group threshold for messages, e.g. "2 of 3 in auditors".
func (g *Group) String() string {
	return strconv.Itoa(g.Threshold) + " of " + strconv.Itoa(len(g.Witnesses)+len(g.Groups)) + " in " + g.Name
}

// ParseLogs parses a list of logs in tlog-policy syntax: "log <vkey> [url]"
// lines, blank lines and "#" comments only, as a witness is configured.
func ParseLogs(data []byte) ([]Log, error) {
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("log list is %d bytes, more than %d", len(data), maxPolicySize)
	}
	if err := checkControlBytes(data, "log list"); err != nil {
		return nil, err
	}
	pp := policyParser{policy: &Policy{}, keys: map[string]string{}}
	for i, line := range bytes.Split(data, []byte("\n")) {
		fields := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if fields[0] != "log" {
			return nil, fmt.Errorf("log list line %d: only \"log <vkey> [url]\" lines are allowed", i+1)
		}
		if err := pp.log(fields[1:]); err != nil {
			return nil, fmt.Errorf("log list line %d: %w", i+1, err)
		}
	}
	if len(pp.policy.Logs) == 0 {
		return nil, errors.New("log list names no log")
	}
	return pp.policy.Logs, nil
}
