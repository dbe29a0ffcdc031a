package event

import (
	"slices"
	"strings"
)

// A Detector finds secrets by their value, wherever they are: a card number
// in a free-text reason, a token pasted into a change. A Redactor given
// detectors runs them over every string it checks (see Redactor.Redact) and
// replaces each span they find with "[REDACTED]", keeping the rest of the
// string.
//
// Detectors look for shapes that carry their own proof where the format has
// one (the Luhn digit of a card number, the mod-97 check of an IBAN), so that
// an order number or a reference that merely looks alike is kept.
type Detector struct {
	// Name is the detector's name in the configuration file
	// (redact_values).
	Name string
	find func(r *Redactor, s string, spans []span) []span
}

// span is [start, end) of a secret in a string.
type span struct{ start, end int }

// The detectors, by the name the configuration file uses.
var (
	// CardNumbers finds payment card numbers: 13 to 19 digits, optionally
	// grouped by single spaces or hyphens, whose first digit is 2 to 6 (the
	// ISO/IEC 7812 industries of banking and finance) and whose last digit
	// is the Luhn check digit of the others.
	CardNumbers = Detector{"card_number", findCards}
	// SSNs finds US social security numbers written ddd-dd-dddd whose area is
	// not 000, 666 or 9xx, group not 00 and serial not 0000.
	SSNs = Detector{"ssn", findSSNs}
	// IBANs finds international bank account numbers: a country code, two
	// check digits and up to 30 letters and digits, compact or in groups of
	// four separated by single spaces, 15 to 34 characters, that pass the
	// ISO 13616 mod-97 check.
	IBANs = Detector{"iban", findIBANs}
	// BearerTokens finds the credential after "Bearer " (any case): at least
	// 8 token characters holding a digit or punctuation, or at least 20.
	BearerTokens = Detector{"bearer_token", findBearer}
	// APIKeys finds the shapes of common API keys: AWS access key IDs
	// (AKIA/ASIA + 16), GitHub tokens (ghp_ gho_ ghu_ ghs_ ghr_ + 36,
	// github_pat_), Slack tokens (xoxb- xoxp- xoxa- xoxo- xoxr- xoxs-,
	// xapp-), Stripe secret keys (sk_live_ rk_live_ sk_test_ rk_test_),
	// Google API keys (AIza + 35) and JSON Web Tokens (eyJ….eyJ….…).
	APIKeys = Detector{"api_key", findAPIKeys}
	// SecretPairs finds the value in "name=value" or "name: value" when the
	// name is one of the Redactor's keys (so "password=hunter3" and, with
	// the key "diagnosis", "diagnosis: flu"). After ':' there must be a
	// space or a quote, unless the name is quoted (`"pin":"1234"`), so that
	// identifiers such as "token:t1" are kept. The value ends at whitespace,
	// '&', ',' or ';', or at its closing quote.
	// After an authorization scheme (Bearer, Basic, ...) the credential
	// that follows is part of the value.
	SecretPairs = Detector{"secret_pair", findPairs}
)

// DefaultDetectors are the detectors a Pipeline runs by default: all of
// them.
var DefaultDetectors = []Detector{CardNumbers, SSNs, IBANs, BearerTokens, APIKeys, SecretPairs}

// DetectorNamed returns the detector called name, and whether there is one.
func DetectorNamed(name string) (Detector, bool) {
	for _, d := range DefaultDetectors {
		if d.Name == name {
			return d, true
		}
	}
	return Detector{}, false
}

// detect returns s with every secret the detectors find replaced by
// "[REDACTED]", and whether it found any. Overlapping or adjacent spans
// share one marker.
func (r *Redactor) detect(s string) (string, bool) {
	if r == nil || len(r.detectors) == 0 {
		return s, false
	}
	var spans []span
	for _, d := range r.detectors {
		spans = d.find(r, s, spans)
	}
	if len(spans) == 0 {
		return s, false
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	last, cur := 0, spans[0]
	for _, sp := range append(spans[1:], span{len(s) + 1, len(s) + 1}) {
		if sp.start <= cur.end {
			cur.end = max(cur.end, sp.end)
			continue
		}
		b.WriteString(s[last:cur.start])
		b.WriteString(Redacted)
		last, cur = cur.end, sp
	}
	b.WriteString(s[last:])
	return b.String(), true
}

func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isUpperAlnum(c byte) bool { return isUpper(c) || isDigit(c) }

// boundaryBefore reports whether a shape may start at s[i]: at the start or
// after a character other than a letter or digit.
func boundaryBefore(s string, i int) bool { return i == 0 || !isAlnum(s[i-1]) }

// boundaryAfter reports whether a shape may end before s[i].
func boundaryAfter(s string, i int) bool { return i >= len(s) || !isAlnum(s[i]) }

// findCards: see CardNumbers. It reads digit groups: runs of digits
// separated by a single space or hyphen. A card number is one group, or
// consecutive groups of at least 3 digits each joined by one kind of
// separator; from each group it tries the longest such sequence first, so a
// number next to the card ("order 12345 4111 1111 1111 1111") does not hide
// it.
func findCards(_ *Redactor, s string, spans []span) []span {
	var groups []span // the digit groups of the current run
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || !boundaryBefore(s, i) {
			i++
			continue
		}
		groups = groups[:0]
		j := i
		for {
			k := j
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			groups = append(groups, span{j, k})
			if k+1 < len(s) && (s[k] == ' ' || s[k] == '-') && isDigit(s[k+1]) && len(groups) < 19 {
				j = k + 1
				continue
			}
			j = k
			break
		}
		if !boundaryAfter(s, j) {
			groups = groups[:len(groups)-1] // the last group runs into a word
		}
		for g := 0; g < len(groups); {
			if end, ok := cardAt(s, groups[g:]); ok {
				spans = append(spans, span{groups[g].start, end})
				for g < len(groups) && groups[g].start < end {
					g++
				}
				continue
			}
			g++
		}
		i = j + 1
	}
	return spans
}

// cardAt returns the end of the card number that starts with groups[0], if
// there is one: see findCards.
func cardAt(s string, groups []span) (int, bool) {
	if c := s[groups[0].start]; c < '2' || c > '6' {
		return 0, false
	}
	var digits [19]byte
	var counts [19]int // counts[m]: the digits in groups[:m+1]
	n, taken := 0, 0
	for m, g := range groups {
		if m > 0 && (g.end-g.start < 3 || groups[0].end-groups[0].start < 3 || s[g.start-1] != s[groups[1].start-1]) ||
			n+g.end-g.start > len(digits) {
			break
		}
		for k := g.start; k < g.end; k++ {
			digits[n] = s[k] - '0'
			n++
		}
		counts[m], taken = n, m+1
	}
	for m := taken - 1; m >= 0; m-- {
		if counts[m] >= 13 && luhn(digits[:counts[m]]) {
			return groups[m].end, true
		}
	}
	return 0, false
}

// luhn reports whether the last digit of d is the Luhn check digit of the
// others.
func luhn(d []byte) bool {
	sum := 0
	for i := range d {
		v := int(d[len(d)-1-i])
		if i%2 == 1 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// findSSNs: see SSNs.
func findSSNs(_ *Redactor, s string, spans []span) []span {
	if strings.IndexByte(s, '-') < 0 {
		return spans
	}
	for i := 0; i+11 <= len(s); i++ {
		t := s[i : i+11]
		if !isDigit(t[0]) || t[3] != '-' || t[6] != '-' || !boundaryBefore(s, i) || i > 0 && s[i-1] == '-' ||
			!boundaryAfter(s, i+11) || i+11 < len(s) && s[i+11] == '-' {
			continue
		}
		if !all(t[:3], isDigit) || !all(t[4:6], isDigit) || !all(t[7:], isDigit) {
			continue
		}
		if area := t[:3]; area == "000" || area == "666" || area[0] == '9' || t[4:6] == "00" || t[7:] == "0000" {
			continue
		}
		spans = append(spans, span{i, i + 11})
		i += 10
	}
	return spans
}

// all reports whether every byte of s is one that ok accepts.
func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// findIBANs: see IBANs.
func findIBANs(_ *Redactor, s string, spans []span) []span {
	for i := 0; i+15 <= len(s); i++ {
		if !isUpper(s[i]) || !isUpper(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) || !boundaryBefore(s, i) {
			continue
		}
		// ends holds where the IBAN could end: after the compact run, or
		// after each group of four.
		var ends [9]int
		n, j := 0, i+4
		if j < len(s) && isUpperAlnum(s[j]) { // compact
			for j < len(s) && isUpperAlnum(s[j]) {
				j++
			}
			ends[0], n = j, 1
		} else {
			for n < len(ends) && j+1 < len(s) && s[j] == ' ' {
				k := j + 1
				for k < len(s) && k-j <= 4 && isUpperAlnum(s[k]) {
					k++
				}
				if k == j+1 || k-j > 4 && k < len(s) && isUpperAlnum(s[k]) {
					break // not a group of 1 to 4
				}
				group := k - j - 1
				j, ends[n], n = k, k, n+1
				if group < 4 {
					break // a short group is the last
				}
			}
		}
		for m := n - 1; m >= 0; m-- {
			if end := ends[m]; boundaryAfter(s, end) && ibanValid(s[i:end]) {
				spans = append(spans, span{i, end})
				i = end - 1
				break
			}
		}
	}
	return spans
}

// ibanValid reports whether s, an IBAN with or without spaces, has 15 to 34
// characters and passes the mod-97 check: the first four moved to the end,
// letters as 10 to 35, the number mod 97 is 1.
func ibanValid(s string) bool {
	compact := make([]byte, 0, 34)
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			if len(compact) == cap(compact) {
				return false
			}
			compact = append(compact, s[i])
		}
	}
	if len(compact) < 15 {
		return false
	}
	rem := 0
	for _, c := range append(compact[4:], compact[:4]...) {
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A'+10)) % 97
		}
	}
	return rem == 1
}

// isTokenChar reports whether c may be in a bearer credential (RFC 6750's
// b64token).
func isTokenChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("-._~+/=", c) >= 0
}

// findBearer: see BearerTokens.
func findBearer(_ *Redactor, s string, spans []span) []span {
	for i := 0; i+len("bearer ")+8 <= len(s); i++ {
		if s[i]|0x20 != 'b' || !strings.EqualFold(s[i:i+6], "bearer") || !boundaryBefore(s, i) {
			continue
		}
		j := i + 6
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j == i+6 {
			continue
		}
		if end, ok := credential(s, j); ok {
			spans = append(spans, span{j, end})
			i = end - 1
		}
	}
	return spans
}

// credential returns the end of the bearer credential at s[start:], if one
// is there: see BearerTokens.
func credential(s string, start int) (int, bool) {
	end, plain := start, true
	for end < len(s) && isTokenChar(s[end]) {
		plain = plain && (isUpper(s[end]) || 'a' <= s[end] && s[end] <= 'z')
		end++
	}
	for end > start && s[end-1] == '.' { // the end of a sentence
		end--
	}
	n := end - start
	return end, n >= 20 || n >= 8 && !plain
}

// keyShape is one API key shape: a prefix, then at least min and at most
// max characters of the key alphabet ([A-Za-z0-9_-], or upper case and
// digits when upper).
type keyShape struct {
	prefix   string
	min, max int
	upper    bool
}

var keyShapes = []keyShape{
	{"AKIA", 16, 16, true}, {"ASIA", 16, 16, true},
	{"ghp_", 36, 36, false}, {"gho_", 36, 36, false}, {"ghu_", 36, 36, false}, {"ghs_", 36, 36, false}, {"ghr_", 36, 36, false},
	{"github_pat_", 22, 255, false},
	{"xoxb-", 10, 255, false}, {"xoxp-", 10, 255, false}, {"xoxa-", 10, 255, false}, {"xoxo-", 10, 255, false},
	{"xoxr-", 10, 255, false}, {"xoxs-", 10, 255, false}, {"xapp-", 10, 255, false},
	{"sk_live_", 16, 255, false}, {"rk_live_", 16, 255, false}, {"sk_test_", 16, 255, false}, {"rk_test_", 16, 255, false},
	{"AIza", 35, 35, false},
}

func isKeyChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

// findAPIKeys: see APIKeys.
func findAPIKeys(_ *Redactor, s string, spans []span) []span {
	for i := 0; i < len(s); i++ {
		if !isKeyChar(s[i]) || i > 0 && isKeyChar(s[i-1]) {
			continue
		}
		j := i
		for j < len(s) && isKeyChar(s[j]) {
			j++
		}
		if end, ok := jwt(s, i, j); ok {
			spans = append(spans, span{i, end})
			i = end
			continue
		}
		word := s[i:j]
		for _, k := range keyShapes {
			n := len(word) - len(k.prefix)
			if strings.HasPrefix(word, k.prefix) && n >= k.min && n <= k.max && (!k.upper || all(word[len(k.prefix):], isUpperAlnum)) {
				spans = append(spans, span{i, j})
				break
			}
		}
		i = j
	}
	return spans
}

// jwt returns the end of the JSON Web Token at s[i:], s[i:j] being its first
// segment if it is one: "eyJ" (a base64url '{"'), '.', "eyJ", '.', a
// signature of at least 16 characters.
func jwt(s string, i, j int) (int, bool) {
	if !strings.HasPrefix(s[i:j], "eyJ") || j-i < 10 || j >= len(s) || s[j] != '.' || !strings.HasPrefix(s[j+1:], "eyJ") {
		return 0, false
	}
	k := j + 1
	for k < len(s) && isKeyChar(s[k]) {
		k++
	}
	if k >= len(s) || s[k] != '.' {
		return 0, false
	}
	end := k + 1
	for end < len(s) && isKeyChar(s[end]) {
		end++
	}
	return end, end-(k+1) >= 16
}

// authSchemes are the authorization schemes after which SecretPairs takes
// the credential too.
var authSchemes = []string{"bearer", "basic", "digest", "token"}

// findPairs: see SecretPairs.
func findPairs(r *Redactor, s string, spans []span) []span {
	if len(r.keys) == 0 || !strings.ContainsAny(s, "=:") {
		return spans
	}
	for i := 1; i < len(s); i++ {
		if s[i] != '=' && s[i] != ':' {
			continue
		}
		// The name before, maybe quoted, maybe spaced from ':'.
		e := i
		for e > 0 && s[e-1] == ' ' {
			e--
		}
		var quote byte
		if e > 0 && (s[e-1] == '"' || s[e-1] == '\'') {
			quote, e = s[e-1], e-1
		}
		b := e
		for b > 0 && (isKeyChar(s[b-1]) || s[b-1] == '.') {
			b--
		}
		if b == e || quote != 0 && (b == 0 || s[b-1] != quote) || !r.match([]byte(s[b:e])) {
			continue
		}
		// The value after.
		v := i + 1
		for v < len(s) && s[v] == ' ' {
			v++
		}
		if s[i] == ':' && v == i+1 && quote == 0 && v < len(s) && s[v] != '"' && s[v] != '\'' {
			continue // "token:t1" is a name, as in the ledger's own actor ids
		}
		start, end := pairValue(s, v)
		if end == start || strings.HasPrefix(s[start:end], Redacted) && boundaryAfter(s, start+len(Redacted)) {
			continue // empty, or redacted already ("iban: [REDACTED]!")
		}
		for _, scheme := range authSchemes {
			if start == v && strings.EqualFold(s[start:end], scheme) && end+1 < len(s) && s[end] == ' ' {
				_, end = pairValue(s, end+1)
				break
			}
		}
		spans = append(spans, span{start, end})
		i = end - 1
	}
	return spans
}

// pairValue returns where the value that starts at s[v] is: inside its
// quotes if it is quoted, else up to whitespace, '&', ',' or ';'.
func pairValue(s string, v int) (start, end int) {
	if v < len(s) && (s[v] == '"' || s[v] == '\'') {
		if k := strings.IndexByte(s[v+1:], s[v]); k >= 0 {
			return v + 1, v + 1 + k
		}
	}
	end = v
	for end < len(s) && strings.IndexByte(" \t\r\n&,;", s[end]) < 0 {
		end++
	}
	return v, end
}
