package event

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// parser is a strict one-pass JSON scanner over src. This file holds its
// tokens: whitespace, literals, strings and numbers. With them it decodes
// events (decode.go, fields.go) and writes the canonical form of arbitrary
// values, Change.Old and Change.New (canonical.go), redacting sensitive
// members on the way when red is set (redact.go).
//
// Strict means: RFC 8259 grammar, valid UTF-8, no lone surrogates in \u
// escapes, no duplicate object member names, at most maxDepth levels.
type parser struct {
	src []byte
	pos int
	// s, when set, holds the same bytes as src: strings without escapes are
	// cut from it instead of being allocated one by one.
	s string
	// keyAt is where the last name returned by key starts in src, or -1 if
	// it was unescaped into new memory.
	keyAt int

	depth   int
	members []member // object members being ordered, a stack shared by all levels
	tmp     []byte   // scratch for reordering members
	discard []byte   // scratch for values that are checked but not kept
	out     []byte   // scratch for a value being redacted

	// Redaction, when red is not nil.
	red      *Redactor
	path     []pathSeg // where the parser is, below changes.<change>.<which>
	change   string    // the change whose value is parsed, e.g. "profile"
	which    string    // "old" or "new"
	redacted []string  // dotted paths replaced by "[REDACTED]"
	scan     bool      // whether to run red's detectors on every string
}

type member struct {
	key        []byte // unescaped name
	start, end int    // "name":value in dst, without the separating comma
}

type pathSeg struct {
	key   []byte
	index int // when key is nil
}

// syntaxError is malformed input: nothing after it can be trusted.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.offset) }

func (p *parser) errorf(format string, args ...any) error {
	return &syntaxError{offset: p.pos, msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipWS() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end of the input.
func (p *parser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// expect consumes c after optional whitespace.
func (p *parser) expect(c byte) error {
	p.skipWS()
	if p.peek() != c {
		return p.errorf("expected %q, found %s", c, p.found())
	}
	p.pos++
	return nil
}

// found describes the next input byte for error messages.
func (p *parser) found() string {
	if p.pos >= len(p.src) {
		return "end of input"
	}
	return strconv.QuoteRune(rune(p.src[p.pos]))
}

// kind names the JSON type of the value that starts at p.pos.
func (p *parser) kind() string {
	switch p.peek() {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "number"
	}
	return p.found()
}

// literal consumes the literal word (true, false, null).
func (p *parser) literal(word string) error {
	if !bytes.HasPrefix(p.src[p.pos:], []byte(word)) {
		return p.errorf("invalid literal")
	}
	p.pos += len(word)
	return nil
}

// isNull consumes a null literal if one is next.
func (p *parser) isNull() (bool, error) {
	if p.peek() != 'n' {
		return false, nil
	}
	return true, p.literal("null")
}

// key reads an object member name (p.pos at its opening quote) and returns
// it unescaped; without escapes it is a view of src.
func (p *parser) key() ([]byte, error) {
	start := p.pos + 1
	for i := start; i < len(p.src); i++ {
		c := p.src[i]
		switch {
		case c == '"':
			p.pos = i + 1
			p.keyAt = start
			return p.src[start:i], nil
		case c == '\\' || c < 0x20:
			p.keyAt = -1
			return p.appendString(nil)
		case c >= utf8.RuneSelf:
			// Valid UTF-8 needs no unescaping.
			r, n := utf8.DecodeRune(p.src[i:])
			if r == utf8.RuneError && n == 1 {
				p.keyAt = -1
				return p.appendString(nil)
			}
			i += n - 1
		}
	}
	p.pos = len(p.src)
	return nil, p.errorf("unterminated string")
}

// str reads a string value (p.pos at its opening quote).
func (p *parser) str() (string, error) {
	b, err := p.key()
	return p.keyString(b), err
}

// keyString returns b, just returned by key, as a string.
func (p *parser) keyString(b []byte) string {
	if p.s != "" && p.keyAt >= 0 {
		return p.s[p.keyAt : p.keyAt+len(b)]
	}
	return string(b)
}

// appendString unescapes the string at p.pos (its opening quote) onto dst.
func (p *parser) appendString(dst []byte) ([]byte, error) {
	p.pos++
	for {
		start := p.pos
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
			p.pos++
		}
		dst = append(dst, p.src[start:p.pos]...)
		if p.pos >= len(p.src) {
			return dst, p.errorf("unterminated string")
		}
		switch c := p.src[p.pos]; {
		case c == '"':
			p.pos++
			return dst, nil
		case c < 0x20:
			return dst, p.errorf("control character %U in string (escape it)", rune(c))
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(p.src[p.pos:])
			if r == utf8.RuneError && n == 1 {
				return dst, p.errorf("invalid UTF-8 in string")
			}
			dst = append(dst, p.src[p.pos:p.pos+n]...)
			p.pos += n
		default:
			var err error
			if dst, err = p.escape(dst); err != nil {
				return dst, err
			}
		}
	}
}

// escape decodes the escape sequence at p.pos (its backslash) onto dst.
func (p *parser) escape(dst []byte) ([]byte, error) {
	if p.pos+1 >= len(p.src) {
		return dst, p.errorf("unterminated string")
	}
	c := p.src[p.pos+1]
	p.pos += 2
	switch c {
	case '"', '\\', '/':
		return append(dst, c), nil
	case 'b':
		return append(dst, '\b'), nil
	case 'f':
		return append(dst, '\f'), nil
	case 'n':
		return append(dst, '\n'), nil
	case 'r':
		return append(dst, '\r'), nil
	case 't':
		return append(dst, '\t'), nil
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return dst, p.errorf(`invalid \u escape`)
		}
		if utf16.IsSurrogate(r) {
			var r2 rune = -1
			if bytes.HasPrefix(p.src[p.pos:], []byte(`\u`)) {
				p.pos += 2
				r2, _ = p.hex4()
			}
			if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
				return dst, p.errorf(`invalid surrogate pair in \u escape`)
			}
		}
		return utf8.AppendRune(dst, r), nil
	}
	p.pos--
	return dst, p.errorf("invalid escape character %q", c)
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.src) {
		return 0, false
	}
	var r rune
	for _, c := range p.src[p.pos : p.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.pos += 4
	return r, true
}

// number consumes a number, checking RFC 8259 grammar, and returns its text.
func (p *parser) number() ([]byte, error) {
	start := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	switch c := p.peek(); {
	case c == '0':
		p.pos++
	case '1' <= c && c <= '9':
		p.digits()
	default:
		return nil, p.errorf("invalid number")
	}
	if p.peek() == '.' {
		p.pos++
		if p.digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.pos++
		if c := p.peek(); c == '+' || c == '-' {
			p.pos++
		}
		if p.digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	return p.src[start:p.pos], nil
}

func (p *parser) digits() int {
	start := p.pos
	for p.pos < len(p.src) && '0' <= p.src[p.pos] && p.src[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - start
}

// reset points p at src, keeping its scratch buffers.
func (p *parser) reset(src []byte) {
	p.src, p.pos, p.s, p.depth = src, 0, "", 0
	p.members, p.tmp, p.discard, p.out = p.members[:0], p.tmp[:0], p.discard[:0], p.out[:0]
	p.red, p.path, p.change, p.which, p.redacted, p.scan = nil, p.path[:0], "", "", nil, false
}

// parsers holds parsers with their scratch buffers for reuse.
var parsers = sync.Pool{New: func() any { return new(parser) }}

func getParser() *parser { return parsers.Get().(*parser) }

func putParser(p *parser) {
	if cap(p.tmp)+cap(p.discard)+cap(p.out) > 64<<10 {
		return // don't keep a large buffer alive for small values
	}
	p.reset(nil)
	parsers.Put(p)
}
