package event

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"
)

// Fixed bounds of the schema (Limits holds the configurable ones).
const (
	maxIDBytes     = 128 // id, an idempotency key
	maxTokenBytes  = 128 // action, event_type
	maxTagKeyBytes = 128
)

// Validate checks e against the schema and returns every problem, each with
// the dotted path of its field (Index is 0; the caller sets it). Run it after
// Normalize. The rules:
//   - required: actor.id, actor.type, action, resource.type, result;
//   - actor.type: user, service, admin, system or api_client; result:
//     success, failure or denied (exact case);
//   - action: a lowercase token, [a-z][a-z0-9_.-]*, at most 128 bytes;
//   - event_type: two or more dot-separated segments of [a-z][a-z0-9_]*, at
//     most 128 bytes, e.g. "user.login";
//   - id: 1 to 128 characters of A-Z a-z 0-9 . _ : - (it is an idempotency
//     key, and UUIDs fit);
//   - timestamp: year 0000 to 9999 (RFC 3339);
//   - ip_address: an IPv4 or IPv6 address without zone;
//   - actor.email: has an '@' with something on each side;
//   - every string: valid UTF-8, at most lim.MaxFieldBytes, no control
//     characters (C0, DEL, C1), except that reason and failure_reason may
//     hold newlines and tabs;
//   - changes: at most lim.MaxChanges; names are non-empty strings as above;
//     each change has old or new, each a strict JSON value (no duplicate
//     member names, at most 32 levels deep);
//   - tags: at most lim.MaxTags; names of 1 to 128 characters of
//     A-Z a-z 0-9 . _ : / -; values are strings as above.
func (e *Event) Validate(lim Limits) []FieldError {
	lim = lim.withDefaults()
	v := validator{max: lim.MaxFieldBytes}
	v.id(e.ID)
	if !e.Timestamp.IsZero() {
		if y := e.Timestamp.UTC().Year(); y < 0 || y > 9999 {
			v.add("timestamp", "year must be between 0000 and 9999 (got %d)", y)
		}
	}
	v.text("tenant_id", e.TenantID, false)
	if e.EventType != "" && !isEventType(e.EventType) {
		v.add("event_type", "must be a dotted lowercase name such as user.login: two or more segments of [a-z][a-z0-9_]*, at most %d bytes (got %s)", maxTokenBytes, quote(e.EventType))
	}
	switch {
	case e.Action == "":
		v.add("action", "required")
	case !isAction(e.Action):
		v.add("action", "must be a lowercase token matching [a-z][a-z0-9_.-]*, at most %d bytes (got %s)", maxTokenBytes, quote(e.Action))
	}
	v.required("actor.id", e.Actor.ID)
	v.enum("actor.type", e.Actor.Type, ActorTypes)
	if v.text("actor.email", e.Actor.Email, false) && e.Actor.Email != "" {
		if at := strings.LastIndexByte(e.Actor.Email, '@'); at <= 0 || at == len(e.Actor.Email)-1 || strings.ContainsAny(e.Actor.Email, " \t") {
			v.add("actor.email", "must be an email address (got %s)", quote(e.Actor.Email))
		}
	}
	v.text("actor.role", e.Actor.Role, false)
	v.required("resource.type", e.Resource.Type)
	v.text("resource.id", e.Resource.ID, false)
	v.enum("result", e.Result, Results)
	v.text("failure_reason", e.FailureReason, true)
	v.text("source", e.Source, false)
	if e.IPAddress != "" {
		if a, err := netip.ParseAddr(e.IPAddress); err != nil || a.Zone() != "" {
			v.add("ip_address", "must be an IPv4 or IPv6 address (got %s)", quote(e.IPAddress))
		}
	}
	v.text("user_agent", e.UserAgent, false)
	v.text("session_id", e.SessionID, false)
	v.text("correlation_id", e.CorrelationID, false)
	v.text("request_id", e.RequestID, false)
	v.text("reason", e.Reason, true)
	v.changes(e.Changes, lim.MaxChanges)
	v.tags(e.Tags, lim.MaxTags)
	return v.errs
}

type validator struct {
	max  int
	errs []FieldError
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) required(field, s string) {
	if s == "" {
		v.add(field, "required")
		return
	}
	v.text(field, s, false)
}

func (v *validator) enum(field, s string, allowed []string) {
	switch {
	case s == "":
		v.add(field, "required")
	case !slices.Contains(allowed, s):
		v.add(field, "must be one of %s (got %s)", strings.Join(allowed, ", "), quote(s))
	}
}

func (v *validator) id(s string) {
	if s == "" {
		return // Normalize assigns one
	}
	ok := len(s) <= maxIDBytes
	for i := 0; ok && i < len(s); i++ {
		ok = isAlnum(s[i]) || strings.IndexByte("._:-", s[i]) >= 0
	}
	if !ok {
		v.add("id", "must be 1 to %d characters of A-Z a-z 0-9 . _ : - (got %s)", maxIDBytes, quote(s))
	}
}

// text checks a free-text field and reports whether it passed.
func (v *validator) text(field, s string, multiline bool) bool {
	if msg := checkText(s, v.max, multiline); msg != "" {
		v.add(field, "%s", msg)
		return false
	}
	return true
}

// checkText returns what is wrong with s as free text, or "".
func checkText(s string, max int, multiline bool) string {
	if len(s) > max {
		return fmt.Sprintf("must be at most %d bytes (got %d)", max, len(s))
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := rune(c), 1
		if c >= utf8.RuneSelf {
			if r, n = utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && n == 1 {
				return fmt.Sprintf("must be valid UTF-8 (bad byte at %d)", i)
			}
		}
		if r < 0x20 && !(multiline && (r == '\n' || r == '\t')) || r >= 0x7f && r <= 0x9f {
			return fmt.Sprintf("must not contain control characters (found %U at byte %d)", r, i)
		}
		i += n
	}
	return ""
}

func (v *validator) changes(m map[string]Change, max int) {
	if len(m) > max {
		v.add("changes", "must have at most %d entries (got %d)", max, len(m))
	}
	if len(m) == 0 {
		return
	}
	first := len(v.errs)
	p := getParser()
	for name, c := range m {
		if name == "" {
			v.add("changes", "names must not be empty")
		} else if msg := checkText(name, v.max, false); msg != "" {
			v.add("changes", "name %s: %s", quote(name), msg)
		}
		if c.Old == nil && c.New == nil {
			v.add("changes."+name, "must have old or new")
		}
		for i, raw := range [2][]byte{c.Old, c.New} {
			if raw == nil {
				continue
			}
			p.reset(raw)
			var err error
			if p.discard, err = p.whole(p.discard); err != nil {
				v.add("changes."+name+[2]string{".old", ".new"}[i], "must be a JSON value: %v", err)
			}
		}
	}
	putParser(p)
	v.sort(first)
}

// sort orders the problems from first on, found in map order.
func (v *validator) sort(first int) {
	slices.SortFunc(v.errs[first:], func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Message, b.Message))
	})
}

func (v *validator) tags(m map[string]string, max int) {
	if len(m) > max {
		v.add("tags", "must have at most %d entries (got %d)", max, len(m))
	}
	first := len(v.errs)
	for k, val := range m {
		if !isTagKey(k) {
			v.add("tags", "name %s must be 1 to %d characters of A-Z a-z 0-9 . _ : / -", quote(k), maxTagKeyBytes)
			continue
		}
		if msg := checkText(val, v.max, false); msg != "" {
			v.add("tags."+k, "%s", msg)
		}
	}
	v.sort(first)
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// isAction reports whether s matches [a-z][a-z0-9_.-]* within maxTokenBytes.
func isAction(s string) bool {
	if len(s) == 0 || len(s) > maxTokenBytes || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isEventType reports whether s is two or more dot-separated segments of
// [a-z][a-z0-9_]*, within maxTokenBytes.
func isEventType(s string) bool {
	if len(s) > maxTokenBytes {
		return false
	}
	segments := 0
	for seg := range strings.SplitSeq(s, ".") {
		if len(seg) == 0 || seg[0] < 'a' || seg[0] > 'z' {
			return false
		}
		for i := 1; i < len(seg); i++ {
			if !isLowerAlnum(seg[i]) && seg[i] != '_' {
				return false
			}
		}
		segments++
	}
	return segments >= 2
}

func isTagKey(s string) bool {
	if len(s) == 0 || len(s) > maxTagKeyBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && strings.IndexByte("._:/-", s[i]) < 0 {
			return false
		}
	}
	return true
}

// sortedKeys appends the keys of m to keys, sorted.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
