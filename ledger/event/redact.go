package event

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultRedactKeys are the member names whose values are redacted by
// default.
var DefaultRedactKeys = []string{
	"password", "passwd", "secret", "token", "access_token", "refresh_token",
	"api_key", "apikey", "authorization", "private_key", "ssn", "credit_card",
	"card_number", "cvv", "pin", "bank_account", "account_number", "routing_number",
	"iban", "social_security",
}

// Redacted is the value that replaces a redacted one.
const Redacted = "[REDACTED]"

// Redactor replaces the values of sensitive members, and the secrets its
// detectors find in any string (see Detector), before an event is hashed or
// stored. A nil *Redactor redacts nothing. It is safe for concurrent use.
//
// A member name is sensitive when, compared case-insensitively and ignoring
// '-' and '_' (so they are alike), it equals one of the keys or ends with
// one at a word boundary: after a character other than a letter or digit,
// or at a lower-to-upper case change. With the key "password": "password",
// "PassWord", "db-password", "user.password" and "newPassword" are
// sensitive; "passwords", "passwordless" and "password_policy" are not. With
// "api_key": "API-KEY", "apiKey", "x-api-key". With "card_number":
// "cardNumber".
type Redactor struct {
	keys      map[string]bool // normalised
	longest   int             // the length of the longest key, normalised
	detectors []Detector
}

// NewRedactor returns a Redactor for the given keys and detectors (see
// Redactor). The Pipeline's default is NewRedactor(DefaultRedactKeys,
// DefaultDetectors...).
func NewRedactor(keys []string, detectors ...Detector) *Redactor {
	r := &Redactor{keys: make(map[string]bool, len(keys)), detectors: slices.Clone(detectors)}
	for _, k := range keys {
		if k != "" {
			n := normalizeKey(nil, []byte(k))
			r.keys[string(n)], r.longest = true, max(r.longest, len(n))
		}
	}
	return r
}

// normalizeKey appends k to dst lowercased and without '-' and '_'.
func normalizeKey(dst, k []byte) []byte {
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= utf8.RuneSelf:
			return append(dst[:0], strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(string(k)))...)
		case c == '-' || c == '_':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// match reports whether the member name k is sensitive.
func (r *Redactor) match(k []byte) bool {
	if r == nil || len(r.keys) == 0 {
		return false
	}
	var buf [64]byte
	n := normalizeKey(buf[:0], k)
	if r.keys[string(n)] {
		return true
	}
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf { // rare: look for suffixes after separators only
			for j := 1; j < len(n); j++ {
				if len(n)-j <= r.longest && n[j-1] < utf8.RuneSelf && !isAlnum(n[j-1]) && r.keys[string(n[j:])] {
					return true
				}
			}
			return false
		}
	}
	// n[j:] is the normalised k[i:].
	for i, j := 1, 0; i < len(k); i++ {
		a, b := k[i-1], k[i]
		if a != '-' && a != '_' {
			j++
		}
		boundary := !isAlnum(a) || isAlnum(a) && !isUpper(a) && isUpper(b)
		if boundary && len(n)-j <= r.longest && r.keys[string(n[j:])] { // a longer suffix is no key
			return true
		}
	}
	return false
}

// Redact replaces, in place, the values of sensitive members with
// "[REDACTED]" and returns the dotted paths it replaced, sorted:
//   - a change whose name is sensitive: its old and new
//     ("changes.password");
//   - a member at any depth inside a change's old or new value, in objects
//     and in arrays ("changes.profile.new.credentials.api_key",
//     "changes.users.old.2.password");
//   - a tag whose name is sensitive ("tags.api_token");
//   - with detectors, the secrets they find in the string fields that hold
//     free text or identifiers (actor.id, actor.role, resource.type,
//     resource.id, failure_reason, source, user_agent, session_id,
//     correlation_id, request_id, reason), in tag values ("tags.note") and
//     in every string inside a change's old or new value
//     ("changes.comment.new", "changes.profile.new.bio"): only the secret is
//     replaced, "card 4111 1111 1111 1111 declined" becomes
//     "card [REDACTED] declined". The fields with a fixed syntax (id,
//     tenant_id, event_type, action, actor.type, actor.email, result,
//     ip_address) are not searched.
//
// A value that is null, or already "[REDACTED]", stays as it is and is not
// reported, so Redact is idempotent. Change values it rewrites are left in
// canonical form (see Leaf). A change value that is not valid JSON is
// replaced whole (Validate reports such values).
func (r *Redactor) Redact(e *Event) (redacted []string) {
	if r == nil || len(r.keys) == 0 && len(r.detectors) == 0 {
		return nil
	}
	for _, f := range e.textFields() {
		if t, ok := r.detect(*f.v); ok {
			*f.v = t
			redacted = append(redacted, f.name)
		}
	}
	var p *parser
	for name, c := range e.Changes {
		if r.match([]byte(name)) {
			changed := false
			for _, v := range []*json.RawMessage{&c.Old, &c.New} {
				if *v != nil && string(bytes.TrimSpace(*v)) != "null" && string(*v) != redactedJSON {
					*v, changed = json.RawMessage(redactedJSON), true
				}
			}
			if changed {
				e.Changes[name] = c
				redacted = append(redacted, "changes."+name)
			}
			continue
		}
		if !r.mayRedact(c.Old) && !r.mayRedact(c.New) {
			continue
		}
		if p == nil {
			p = getParser()
			defer putParser(p)
		}
		oldV, oldPaths := r.value(p, name, "old", c.Old)
		newV, newPaths := r.value(p, name, "new", c.New)
		if oldPaths != nil || newPaths != nil {
			c.Old, c.New = oldV, newV
			e.Changes[name] = c
			redacted = append(append(redacted, oldPaths...), newPaths...)
		}
	}
	for k, v := range e.Tags {
		if v != Redacted && r.match([]byte(k)) {
			e.Tags[k] = Redacted
			redacted = append(redacted, "tags."+k)
		} else if t, ok := r.detect(v); ok {
			e.Tags[k] = t
			redacted = append(redacted, "tags."+k)
		}
	}
	slices.Sort(redacted)
	return redacted
}

const redactedJSON = `"` + Redacted + `"`

// textField is a string field of an Event that detectors search.
type textField struct {
	name string
	v    *string
}

// textFields are the fields that Redact searches with its detectors.
func (e *Event) textFields() []textField {
	return []textField{
		{"actor.id", &e.Actor.ID}, {"actor.role", &e.Actor.Role}, {"resource.type", &e.Resource.Type},
		{"resource.id", &e.Resource.ID}, {"failure_reason", &e.FailureReason}, {"source", &e.Source},
		{"user_agent", &e.UserAgent}, {"session_id", &e.SessionID}, {"correlation_id", &e.CorrelationID},
		{"request_id", &e.RequestID}, {"reason", &e.Reason},
	}
}

// mayRedact reports whether v, a change's old or new value, can hold
// anything to redact: an object (member names) or a string in which the
// detectors find a secret (see scanStrings).
func (r *Redactor) mayRedact(v json.RawMessage) bool {
	return bytes.IndexByte(v, '{') >= 0 || r.scanStrings(v)
}

// scanStrings reports whether the strings inside v must be searched one by
// one. Without escapes, each string is a verbatim part of v, between quotes
// that, like the ends of a string, are no letter or digit: a secret the
// detectors find in a string they find in v too. So one pass over v spares
// parsing a value that holds none, the usual case. An object is parsed
// anyway, for its member names, so it is searched string by string.
func (r *Redactor) scanStrings(v json.RawMessage) bool {
	if len(r.detectors) == 0 || bytes.IndexByte(v, '"') < 0 {
		return false
	}
	if bytes.IndexByte(v, '\\') >= 0 || bytes.IndexByte(v, '{') >= 0 {
		return true
	}
	_, found := r.detect(string(v))
	return found
}

// value redacts inside v, the old or new value (which) of the change name;
// paths is nil when nothing was redacted, and then v is returned unchanged.
func (r *Redactor) value(p *parser, name, which string, v json.RawMessage) (json.RawMessage, []string) {
	scan := r.scanStrings(v)
	if !scan && bytes.IndexByte(v, '{') < 0 {
		return v, nil
	}
	p.reset(v)
	p.scan = scan
	p.red, p.change, p.which = r, name, which
	out, err := p.whole(p.out[:0])
	p.out = out
	if err != nil {
		// Not JSON: what it holds is unknown, so none of it is kept.
		return json.RawMessage(redactedJSON), []string{"changes." + name + "." + which}
	}
	if len(p.redacted) == 0 {
		return v, nil
	}
	return bytes.Clone(out), p.redacted
}

// redactValue checks the value at p.pos and writes "[REDACTED]" in its
// place. Null stays null (it hides nothing), and a value that is already
// "[REDACTED]" is not reported again, so redaction is idempotent.
func (p *parser) redactValue(dst []byte) ([]byte, error) {
	p.skipWS()
	start := p.pos
	red := p.red
	p.red = nil // nothing inside a redacted value is reported
	var err error
	p.discard, err = p.value(p.discard[:0])
	p.red = red
	if err != nil {
		return dst, err
	}
	switch raw := p.src[start:p.pos]; string(raw) {
	case "null":
		return append(dst, "null"...), nil
	case redactedJSON:
	default:
		p.redacted = append(p.redacted, p.pathString())
	}
	return append(dst, redactedJSON...), nil
}

func (p *parser) pathString() string {
	b := []byte("changes." + p.change + "." + p.which)
	for _, s := range p.path {
		b = append(b, '.')
		if s.key != nil {
			b = append(b, s.key...)
		} else {
			b = strconv.AppendInt(b, int64(s.index), 10)
		}
	}
	return string(b)
}
