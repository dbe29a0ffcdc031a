package tiles_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/tiles"
	"golang.org/x/mod/sumdb/note"
)

// policyLog is a freshly generated Ed25519 log key.
type policyLog struct {
	origin string
	signer note.Signer
	vkey   string
}

func newPolicyLog(t testing.TB, origin string) policyLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return policyLog{origin: origin, signer: mustSigner(t, skey), vkey: vkey}
}

// sign returns the checkpoint text signed by the log, followed by extra
// signature lines.
func (l policyLog) sign(t testing.TB, text string, extra ...string) []byte {
	t.Helper()
	return []byte(text + "\n" + sigLines(t, text, l.signer) + strings.Join(extra, ""))
}

// rewrapVkey returns the public key of vkey under another name and type.
func rewrapVkey(t testing.TB, vkey, name string, alg byte) string {
	t.Helper()
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 {
		t.Fatalf("vkey %s: %v", vkey, err)
	}
	return fmt.Sprintf("%s+%08x+%s", name, testKeyID(name, alg, raw[1:]), base64.StdEncoding.EncodeToString(append([]byte{alg}, raw[1:]...)))
}

// expand replaces the placeholders {L} (log vkey) and {X1}.. (witness
// vkeys) in a policy template.
func expand(tmpl string, keys map[string]string) string {
	for k, v := range keys {
		tmpl = strings.ReplaceAll(tmpl, "{"+k+"}", v)
	}
	return tmpl
}

const examplePolicy = `# tlog-policy example: two groups of three, combined.
log {L} https://example.com/log/

witness X1 {X1} https://x1.example/
witness X2 {X2}
witness X3	{X3}
group X-witnesses 2 X1 X2 X3

witness Y1 {Y1}
witness Y2 {Y2}
witness Y3 {Y3}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`

// exampleWitnesses returns cosigners X1..X3 and Y1..Y3 signing at time
// katCosigTime, and the placeholders for examplePolicy.
func exampleWitnesses(t testing.TB, l policyLog) (map[string]*tiles.CosignatureSigner, map[string]string) {
	signers := map[string]*tiles.CosignatureSigner{}
	keys := map[string]string{"L": l.vkey}
	for i, name := range []string{"X1", "X2", "X3", "Y1", "Y2", "Y3"} {
		s := newCosigner(t, "witness.example/"+strings.ToLower(name), byte(0x20*(i+1)), katCosigTime+int64(i))
		signers[name] = s
		keys[name] = s.Verifier().VKey()
	}
	return signers, keys
}

func TestParsePolicyExample(t *testing.T) {
	l := newPolicyLog(t, "example.com/log")
	signers, keys := exampleWitnesses(t, l)
	p, err := tiles.ParsePolicy([]byte(expand(examplePolicy, keys)))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Logs) != 1 || p.Logs[0].VKey != l.vkey || p.Logs[0].URL != "https://example.com/log/" || p.Logs[0].Verifier.Name() != "example.com/log" {
		t.Errorf("Logs = %+v", p.Logs)
	}
	var names []string
	for _, w := range p.Witnesses {
		names = append(names, w.Name)
		if w.Verifier.VKey() != keys[w.Name] || w.Verifier.KeyHash() != signers[w.Name].KeyHash() {
			t.Errorf("witness %s has key %s, want %s", w.Name, w.Verifier.VKey(), keys[w.Name])
		}
	}
	if want := []string{"X1", "X2", "X3", "Y1", "Y2", "Y3"}; !slices.Equal(names, want) {
		t.Errorf("witnesses %v, want %v", names, want)
	}
	if p.Witnesses[0].URL != "https://x1.example/" || p.Witnesses[1].URL != "" {
		t.Errorf("witness URLs %q, %q", p.Witnesses[0].URL, p.Witnesses[1].URL)
	}
	q := p.Quorum
	if q == nil || q.Name != "X-and-Y" || q.Threshold != 2 || len(q.Witnesses) != 0 || len(q.Groups) != 2 {
		t.Fatalf("Quorum = %+v", q)
	}
	x, y := q.Groups[0], q.Groups[1]
	if x.Name != "X-witnesses" || x.Threshold != 2 || len(x.Witnesses) != 3 || x.Witnesses[2] != p.Witnesses[2] {
		t.Errorf("X group = %+v", x)
	}
	if y.Name != "Y-witnesses" || y.Threshold != 1 || len(y.Witnesses) != 3 || y.Witnesses[0] != p.Witnesses[3] {
		t.Errorf("Y group = %+v", y)
	}
	if got := x.String(); got != "2 of 3 in X-witnesses" {
		t.Errorf("String() = %q", got)
	}
	if got := q.String(); got != "2 of 2 in X-and-Y" {
		t.Errorf("String() = %q", got)
	}
	for _, tc := range []struct {
		signed []string
		want   bool
	}{
		{nil, false},
		{[]string{"X1", "X2", "Y1"}, true},
		{[]string{"X2", "X3", "Y3"}, true},
		{[]string{"X1", "X2", "X3", "Y1", "Y2", "Y3"}, true},
		{[]string{"X1", "Y1"}, false},
		{[]string{"X1", "X2"}, false},
		{[]string{"X1", "X2", "X3"}, false},
		{[]string{"Y1", "Y2", "Y3"}, false},
		{[]string{"X1", "Y1", "Y2", "Y3"}, false},
		{[]string{"X-witnesses", "Y-witnesses"}, false}, // group names are not signers
	} {
		signed := map[string]bool{}
		for _, s := range tc.signed {
			signed[s] = true
		}
		if got := q.Satisfied(signed); got != tc.want {
			t.Errorf("Satisfied(%v) = %v, want %v", tc.signed, got, tc.want)
		}
	}
}

func TestParsePolicyQuorums(t *testing.T) {
	l := newPolicyLog(t, "example.com/log")
	_, keys := exampleWitnesses(t, l)

	p, err := tiles.ParsePolicy([]byte(expand("log {L}\nwitness X1 {X1}\nquorum none\n", keys)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Quorum != nil || len(p.Witnesses) != 1 {
		t.Errorf("quorum none: %+v", p)
	}

	p, err = tiles.ParsePolicy([]byte(expand("log {L}\nwitness X1 {X1}\nwitness X2 {X2}\nquorum X2\n", keys)))
	if err != nil {
		t.Fatal(err)
	}
	if q := p.Quorum; q == nil || q.Name != "X2" || q.Threshold != 1 || len(q.Witnesses) != 1 || q.Witnesses[0] != p.Witnesses[1] || len(q.Groups) != 0 {
		t.Errorf("quorum X2: %+v", p.Quorum)
	}
	if p.Quorum.Satisfied(map[string]bool{"X1": true}) || !p.Quorum.Satisfied(map[string]bool{"X2": true}) {
		t.Error("a single-witness quorum is satisfied by the wrong witness")
	}

	// Comments, blank lines, tabs and spaces; no log line at all.
	p, err = tiles.ParsePolicy([]byte(expand("\n  # comment\n\twitness  X1\t{X1}  \n#quorum X1\ngroup g 1 X1 # trailing\nquorum g", keys)))
	if err == nil {
		// "# trailing" is not a comment after a member: it is an undefined member.
		t.Errorf("a trailing comment parsed as %+v", p.Quorum)
	}
	p, err = tiles.ParsePolicy([]byte(expand("\n  # comment\n\twitness  X1\t{X1}  \n#quorum X1\ngroup g 1 X1\nquorum g", keys)))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Logs) != 0 || p.Quorum == nil || p.Quorum.Threshold != 1 {
		t.Errorf("comments: %+v", p)
	}

	// k-of-n thresholds.
	for k, want := range map[string]int{"1": 1, "2": 2, "3": 3, "any": 1, "all": 3} {
		p, err := tiles.ParsePolicy([]byte(expand("witness X1 {X1}\nwitness X2 {X2}\nwitness X3 {X3}\ngroup g "+k+" X1 X2 X3\nquorum g\n", keys)))
		if err != nil {
			t.Errorf("threshold %s: %v", k, err)
			continue
		}
		if p.Quorum.Threshold != want {
			t.Errorf("threshold %s = %d, want %d", k, p.Quorum.Threshold, want)
		}
	}
}

func TestParsePolicyRejects(t *testing.T) {
	l := newPolicyLog(t, "example.com/log")
	_, keys := exampleWitnesses(t, l)
	keys["O"] = cosigVkey("witness.example/x1", 0x01, testSeed(0x20)) // X1's key as type 0x01
	parts := strings.SplitN(keys["X1"], "+", 3)
	keys["BADID"] = parts[0] + "+deadbeef+" + parts[2]
	keys["LW"] = rewrapVkey(t, l.vkey, "witness.example/w", 0x04)   // the log's key as a witness key
	keys["XL"] = cosigVkey("example.com/log", 0x04, testSeed(0x20)) // X1's public key under another name
	const ws = "witness X1 {X1}\nwitness X2 {X2}\nwitness X3 {X3}\n"
	for _, tc := range []struct{ name, policy string }{
		{"unknown keyword", "log {L}\nwitnesses X1 {X1}\nquorum none\n"},
		{"keyword case", "LOG {L}\nquorum none\n"},
		{"undefined member", ws + "group g 2 X1 X4\nquorum g\n"},
		{"member defined later", ws + "group g 1 X1 h\ngroup h 1 X2\nquorum g\n"},
		{"group names itself", ws + "group g 1 X1 g\nquorum g\n"},
		{"duplicate member", ws + "group g 2 X1 X2 X1\nquorum g\n"},
		{"duplicate witness name", ws + "witness X1 {Y1}\nquorum X1\n"},
		{"group named like a witness", ws + "group X1 any X2 X3\nquorum X1\n"},
		{"duplicate group name", ws + "group g any X1\ngroup g any X2\nquorum g\n"},
		{"witness named none", "witness none {X1}\nquorum none\n"},
		{"group named none", ws + "group none any X1\nquorum none\n"},
		{"k=0", ws + "group g 0 X1 X2 X3\nquorum g\n"},
		{"k>n", ws + "group g 4 X1 X2 X3\nquorum g\n"},
		{"k with a leading zero", ws + "group g 02 X1 X2 X3\nquorum g\n"},
		{"k negative", ws + "group g -1 X1 X2 X3\nquorum g\n"},
		{"k=ALL", ws + "group g ALL X1 X2 X3\nquorum g\n"},
		{"group without members", ws + "group g any\nquorum g\n"},
		{"two quorum lines", ws + "quorum X1\nquorum X2\n"},
		{"two quorum lines, same name", ws + "quorum X1\nquorum X1\n"},
		{"quorum none twice", "quorum none\nquorum none\n"},
		{"no quorum line", ws + "group g any X1\n"},
		{"empty policy", ""},
		{"quorum undefined", ws + "quorum X4\n"},
		{"quorum before its group", ws + "quorum g\ngroup g any X1\n"},
		{"quorum with two names", ws + "quorum X1 X2\n"},
		{"quorum without a name", ws + "quorum\n"},
		{"duplicate witness key", ws + "witness X4 {X1}\nquorum X1\n"},
		{"duplicate log key", "log {L}\nlog {L}\nquorum none\n"},
		{"witness key under another name", ws + "witness Z {XL}\nquorum none\n"},
		{"log and witness share a key", "log {L}\nwitness W {LW}\nquorum none\n"},
		{"none as a member", ws + "group g any X1 none\nquorum g\n"},
		{"witness with a 0x01 key", "witness X1 {O}\nquorum X1\n"},
		{"witness with a wrong key ID", "witness X1 {BADID}\nquorum X1\n"},
		{"log with a 0x04 key", "log {X1}\nquorum none\n"},
		{"log with a bad key", "log example.com/log+00000000+AAAA\nquorum none\n"},
		{"log without a key", "log\nquorum none\n"},
		{"log with three fields", "log {L} https://a/ extra\nquorum none\n"},
		{"witness without a key", "witness X1\nquorum none\n"},
		{"witness with four fields", "witness X1 {X1} https://a/ extra\nquorum none\n"},
		{"CR line ends", strings.ReplaceAll(ws+"quorum X1\n", "\n", "\r\n")},
		{"NUL byte", ws + "quorum X1\x00\n"},
		{"DEL byte", ws + "quorum X1\x7f\n"},
		{"escape byte", "\x1b" + ws + "quorum X1\n"},
		{"too long", ws + "quorum X1\n" + strings.Repeat("#", 1<<20)},
	} {
		policy := expand(tc.policy, keys)
		if p, err := tiles.ParsePolicy([]byte(policy)); err == nil {
			t.Errorf("%s: ParsePolicy(%q) = %+v, want an error", tc.name, policy, p)
		}
	}
}

func TestParseLogs(t *testing.T) {
	a, b := newPolicyLog(t, "example.com/a"), newPolicyLog(t, "example.com/b")
	logs, err := tiles.ParseLogs([]byte("# logs\nlog " + a.vkey + " https://a.example/\n\n\tlog " + b.vkey + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 2 || logs[0].VKey != a.vkey || logs[0].URL != "https://a.example/" || logs[1].VKey != b.vkey || logs[1].URL != "" {
		t.Errorf("ParseLogs = %+v", logs)
	}
	for _, s := range []string{
		"",
		"# nothing\n",
		"log " + a.vkey + "\nquorum none\n",
		"log " + a.vkey + "\nwitness X1 " + katW1Vkey + "\n",
		"log " + a.vkey + "\nlog " + a.vkey + "\n",
		"log " + katW1Vkey + "\n",
		"log " + a.vkey + " u extra\n",
	} {
		if logs, err := tiles.ParseLogs([]byte(s)); err == nil {
			t.Errorf("ParseLogs(%q) = %+v, want an error", s, logs)
		}
	}
}

func TestPolicyVerify(t *testing.T) {
	l := newPolicyLog(t, "example.com/log")
	signers, keys := exampleWitnesses(t, l)
	policy, err := tiles.ParsePolicy([]byte(expand(examplePolicy, keys)))
	if err != nil {
		t.Fatal(err)
	}
	const text = "example.com/log\n15\n" + katRoot15 + "\n"
	const other = "example.com/log\n16\n" + katRoot15 + "\n"
	cosig := func(name string) string { return sigLines(t, text, signers[name]) }
	outsider := newCosigner(t, "witness.example/outsider", 0xe0, katCosigTime)
	// A line by a known witness over other text: well formed, but invalid.
	bad := func(name string) string { return sigLines(t, other, signers[name]) }

	for _, tc := range []struct {
		name    string
		lines   []string
		quorum  bool
		signed  []string // Cosignatures, in note order
		invalid []string
	}{
		{"quorum met", []string{cosig("X1"), cosig("X3"), cosig("Y2")}, true, []string{"X1", "X3", "Y2"}, nil},
		{"all six", []string{cosig("Y3"), cosig("Y2"), cosig("Y1"), cosig("X3"), cosig("X2"), cosig("X1")}, true, []string{"Y3", "Y2", "Y1", "X3", "X2", "X1"}, nil},
		{"no cosignatures", nil, false, nil, nil},
		{"X group short", []string{cosig("X1"), cosig("Y1"), cosig("Y2")}, false, []string{"X1", "Y1", "Y2"}, nil},
		{"Y group missing", []string{cosig("X1"), cosig("X2"), cosig("X3")}, false, []string{"X1", "X2", "X3"}, nil},
		{"one bad line does not sink the note", []string{cosig("X1"), bad("X2"), cosig("X3"), cosig("Y1")}, true, []string{"X1", "X3", "Y1"}, []string{"X2"}},
		{"a bad line does not count", []string{cosig("X1"), bad("X2"), cosig("Y1")}, false, []string{"X1", "Y1"}, []string{"X2"}},
		{"unknown witness ignored", []string{sigLines(t, text, outsider), cosig("X1"), cosig("X2"), cosig("Y1")}, true, []string{"X1", "X2", "Y1"}, nil},
		{"unknown witness does not count", []string{sigLines(t, text, outsider), cosig("X1"), cosig("Y1")}, false, []string{"X1", "Y1"}, nil},
		{"known name, unknown key ID", []string{cosig("X1"), cosig("Y1"), strings.Replace(sigLines(t, text, outsider), "witness.example/outsider", "witness.example/x2", 1)}, false, []string{"X1", "Y1"}, nil},
		{"an Ed25519 line by a witness's name", []string{cosig("X1"), cosig("Y1"), sigLines(t, text, mustSigner(t, cosigSkey("witness.example/x2", 0x01, testSeed(0x40))))}, false, []string{"X1", "Y1"}, nil},
		{"the same witness twice", []string{cosig("X1"), sigLines(t, text, newCosigner(t, "witness.example/x1", 0x20, katCosigTime+100)), cosig("Y1")}, false, []string{"X1", "Y1"}, nil},
	} {
		msg := l.sign(t, text, tc.lines...)
		sc, err := policy.Verify(msg)
		if tc.quorum && err != nil {
			t.Errorf("%s: Verify: %v", tc.name, err)
			continue
		}
		if !tc.quorum && !errors.Is(err, tiles.ErrQuorumNotMet) {
			t.Errorf("%s: Verify error %v, want ErrQuorumNotMet", tc.name, err)
			continue
		}
		if sc == nil {
			t.Errorf("%s: Verify returned no checkpoint", tc.name)
			continue
		}
		if sc.Origin != "example.com/log" || sc.Size != 15 || string(sc.Note) != string(msg) || string(sc.Text) != text {
			t.Errorf("%s: checkpoint %+v", tc.name, sc.Checkpoint)
		}
		var got []string
		for _, c := range sc.Cosignatures {
			got = append(got, c.Witness)
			want := time.Unix(katCosigTime+int64(slices.Index([]string{"X1", "X2", "X3", "Y1", "Y2", "Y3"}, c.Witness)), 0).UTC()
			if c.Time != want || c.KeyName != "witness.example/"+strings.ToLower(c.Witness) {
				t.Errorf("%s: cosignature %+v, want time %v", tc.name, c, want)
			}
		}
		if !slices.Equal(got, tc.signed) {
			t.Errorf("%s: Cosignatures %v, want %v", tc.name, got, tc.signed)
		}
		if !slices.Equal(sc.Invalid, tc.invalid) {
			t.Errorf("%s: Invalid %v, want %v", tc.name, sc.Invalid, tc.invalid)
		}
	}

	// Without a valid log signature there is no checkpoint at all, however
	// many witnesses cosigned.
	all := []string{cosig("X1"), cosig("X2"), cosig("Y1")}
	other2 := newPolicyLog(t, "example.com/log")
	for name, msg := range map[string][]byte{
		"other log key":    other2.sign(t, text, all...),
		"no log signature": []byte(text + "\n" + strings.Join(all, "")),
		"bad log signature": func() []byte {
			m := l.sign(t, text, all...)
			return []byte(strings.Replace(string(m), "\n15\n", "\n16\n", 1))
		}(),
		"origin mismatch": l.sign(t, "example.com/elsewhere\n15\n"+katRoot15+"\n", sigLines(t, "example.com/elsewhere\n15\n"+katRoot15+"\n", signers["X1"])),
	} {
		if sc, err := policy.Verify(msg); err == nil || sc != nil || errors.Is(err, tiles.ErrQuorumNotMet) {
			t.Errorf("%s: Verify = %v, %v; want no checkpoint and a log error", name, sc, err)
		}
	}

	// quorum none: the log signature is enough.
	none, err := tiles.ParsePolicy([]byte(expand("log {L}\nwitness X1 {X1}\nquorum none\n", keys)))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := none.Verify(l.sign(t, text, bad("X1")))
	if err != nil || sc.Size != 15 || !slices.Equal(sc.Invalid, []string{"X1"}) {
		t.Errorf("quorum none: %+v, %v", sc, err)
	}
	lp, err := tiles.NewLogPolicy(l.vkey)
	if err != nil {
		t.Fatal(err)
	}
	if sc, err := lp.Verify(l.sign(t, text)); err != nil || sc.Size != 15 {
		t.Errorf("NewLogPolicy.Verify: %+v, %v", sc, err)
	}
}
