package event

import (
	"bytes"
	"slices"
	"unicode/utf8"
)

// maxDepth bounds the nesting of objects and arrays inside a change value.
const maxDepth = 32

// value appends the canonical form of the value at p.pos (after optional
// whitespace) to dst: no insignificant whitespace, object members sorted by
// name (bytewise, i.e. by code point), strings escaped as appendQuoted does,
// numbers and literals verbatim.
func (p *parser) value(dst []byte) ([]byte, error) {
	p.skipWS()
	switch c := p.peek(); c {
	case '{':
		return p.object(dst)
	case '[':
		return p.array(dst)
	case '"':
		var s []byte
		var err error
		if s, err = p.key(); err != nil {
			return dst, err
		}
		if p.red != nil && p.scan {
			if t, ok := p.red.detect(string(s)); ok {
				p.redacted = append(p.redacted, p.pathString())
				return appendQuoted(dst, t), nil
			}
		}
		return appendQuoted(dst, s), nil
	case 't':
		return append(dst, "true"...), p.literal("true")
	case 'f':
		return append(dst, "false"...), p.literal("false")
	case 'n':
		return append(dst, "null"...), p.literal("null")
	default:
		n, err := p.number()
		if err != nil {
			return dst, p.errorf("expected a JSON value, found %s", p.found())
		}
		return append(dst, n...), nil
	}
}

func (p *parser) enter() error {
	if p.depth++; p.depth > maxDepth {
		return p.errorf("nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (p *parser) array(dst []byte) ([]byte, error) {
	if err := p.enter(); err != nil {
		return dst, err
	}
	p.pos++
	dst = append(dst, '[')
	p.skipWS()
	if p.peek() == ']' {
		p.pos++
		p.depth--
		return append(dst, ']'), nil
	}
	for i := 0; ; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		p.path = append(p.path, pathSeg{index: i})
		dst, err = p.value(dst)
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return dst, err
		}
		p.skipWS()
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return append(dst, ']'), nil
		default:
			return dst, p.errorf("expected ',' or ']' in array, found %s", p.found())
		}
	}
}

func (p *parser) object(dst []byte) ([]byte, error) {
	if err := p.enter(); err != nil {
		return dst, err
	}
	p.pos++
	dst = append(dst, '{')
	base := len(p.members)
	p.skipWS()
	if p.peek() == '}' {
		p.pos++
		p.depth--
		return append(dst, '}'), nil
	}
	for {
		p.skipWS()
		if p.peek() != '"' {
			return dst, p.errorf("expected a member name, found %s", p.found())
		}
		name, err := p.key()
		if err != nil {
			return dst, err
		}
		if len(p.members) > base {
			dst = append(dst, ',')
		}
		start := len(dst)
		dst = append(appendQuoted(dst, name), ':')
		if err := p.expect(':'); err != nil {
			return dst, err
		}
		p.path = append(p.path, pathSeg{key: name})
		if p.red != nil && p.red.match(name) {
			dst, err = p.redactValue(dst)
		} else {
			dst, err = p.value(dst)
		}
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return dst, err
		}
		p.members = append(p.members, member{key: name, start: start, end: len(dst)})
		p.skipWS()
		switch p.peek() {
		case ',':
			p.pos++
			continue
		case '}':
			p.pos++
		default:
			return dst, p.errorf("expected ',' or '}' in object, found %s", p.found())
		}
		break
	}
	p.depth--
	dst, err := p.order(dst, p.members[base:])
	p.members = p.members[:base]
	return append(dst, '}'), err
}

// order sorts the members just written to dst by name and rejects
// duplicates. Members usually arrive sorted, and then nothing is copied.
func (p *parser) order(dst []byte, ms []member) ([]byte, error) {
	sorted := true
	for i := 1; i < len(ms); i++ {
		switch c := bytes.Compare(ms[i-1].key, ms[i].key); {
		case c == 0:
			return dst, p.errorf("duplicate member name %q", ms[i].key)
		case c > 0:
			sorted = false
		}
	}
	if sorted {
		return dst, nil
	}
	slices.SortFunc(ms, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	for i := 1; i < len(ms); i++ {
		if bytes.Equal(ms[i-1].key, ms[i].key) {
			return dst, p.errorf("duplicate member name %q", ms[i].key)
		}
	}
	region := ms[0].start
	for _, m := range ms {
		region = min(region, m.start)
	}
	p.tmp = append(p.tmp[:0], dst[region:]...)
	dst = dst[:region]
	for i, m := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, p.tmp[m.start-region:m.end-region]...)
	}
	return dst, nil
}

// appendQuoted appends s as a JSON string in canonical form: only '"', '\'
// and the control characters U+0000..U+001F are escaped (as \", \\, \b, \f,
// \n, \r, \t, or \u00xx with lowercase hex); everything else is copied as
// UTF-8. This is the string form of RFC 8785 (JCS). s must be valid UTF-8.
func appendQuoted[T string | []byte](dst []byte, s T) []byte {
	dst, _ = appendQuotedASCII(dst, s)
	return dst
}

// appendQuotedASCII is appendQuoted that also reports whether s is ASCII:
// if not, the caller may need to check that it is valid UTF-8.
func appendQuotedASCII[T string | []byte](dst []byte, s T) ([]byte, bool) {
	dst = append(dst, '"')
	start := 0
	var or byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		or |= c
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), or < utf8.RuneSelf
}

const hexDigits = "0123456789abcdef"

// whole appends the canonical form of the rest of the input, which must be
// exactly one value (see value), to dst.
func (p *parser) whole(dst []byte) ([]byte, error) {
	dst, err := p.value(dst)
	if err != nil {
		return dst, err
	}
	p.skipWS()
	if p.pos != len(p.src) {
		return dst, p.errorf("unexpected data after the value")
	}
	return dst, nil
}
