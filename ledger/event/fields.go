package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// string decodes a string or null into s. Its field is prefix.name.
func (d *decoder) string(s *string, prefix string, name []byte) error {
	switch d.p.peek() {
	case '"':
		v, err := d.p.str()
		if err != nil {
			return d.fatal(join(prefix, name), err)
		}
		*s = v
		return nil
	case 'n':
		if _, err := d.p.isNull(); err != nil {
			return d.fatal(join(prefix, name), err)
		}
		return nil
	}
	field := join(prefix, name)
	return d.skip(field, d.fail(field, "must be a string (got %s)", d.p.kind()))
}

// strings decodes an object of string members with the given names.
func (d *decoder) strings(field string, names []string, dst ...*string) error {
	if ok, err := d.object(field); !ok || err != nil {
		return err
	}
	var seen uint32
	return d.members(field, func(name []byte) error {
		for i, n := range names {
			if n != string(name) {
				continue
			}
			if seen&(1<<i) != 0 {
				return d.skip(join(field, name), d.fail(join(field, name), "duplicate field"))
			}
			seen |= 1 << i
			return d.string(dst[i], field, name)
		}
		return d.skip(join(field, name), d.fail(join(field, name), "unknown field (%s has %s)", field, strings.Join(names, ", ")))
	})
}

// object reports whether an object is next; null is consumed and anything
// else reported and skipped.
func (d *decoder) object(field string) (bool, error) {
	switch d.p.peek() {
	case '{':
		return true, nil
	case 'n':
		_, err := d.p.isNull()
		if err != nil {
			return false, d.fatal(field, err)
		}
		return false, nil
	}
	return false, d.skip(field, d.fail(field, "must be an object (got %s)", d.p.kind()))
}

// timestamp decodes an RFC 3339 date-time or null into t. Its field is
// field.
func (d *decoder) timestamp(field string, t *time.Time) error {
	if ok, err := d.p.isNull(); ok || err != nil {
		if err != nil {
			return d.fatal(field, err)
		}
		return nil
	}
	if d.p.peek() != '"' {
		return d.skip(field, d.fail(field, "must be an RFC 3339 date-time string (got %s)", d.p.kind()))
	}
	b, err := d.p.key()
	if err != nil {
		return d.fatal(field, err)
	}
	// Go's parser also takes ',' before the fraction, as ISO 8601 does;
	// RFC 3339 does not.
	if err := t.UnmarshalText(b); err != nil || bytes.IndexByte(b, ',') >= 0 {
		return d.fail(field, "must be an RFC 3339 date-time such as \"2024-05-01T12:30:00Z\" (got %s)", quote(string(b)))
	}
	return nil
}

func (d *decoder) changes(ev *Event) error {
	if ok, err := d.object("changes"); !ok || err != nil {
		return err
	}
	ev.Changes = make(map[string]Change)
	err := d.members("changes", func(name []byte) error {
		key := d.p.keyString(name)
		if _, dup := ev.Changes[key]; dup {
			return d.skip(join("changes", name), d.fail(join("changes", name), "duplicate field"))
		}
		if d.p.peek() != '{' {
			field := join("changes", name)
			return d.skip(field, d.fail(field, "must be an object with old and/or new (got %s)", d.p.kind()))
		}
		var c Change
		var seen [2]bool
		err := d.members(join("changes", name), func(m []byte) error {
			var i int
			var dst *json.RawMessage
			switch string(m) {
			case "old":
				i, dst = 0, &c.Old
			case "new":
				i, dst = 1, &c.New
			default:
				field := "changes." + key + "." + string(m)
				return d.skip(field, d.fail(field, "unknown field (a change has old and new)"))
			}
			if seen[i] {
				field := "changes." + key + "." + string(m)
				return d.skip(field, d.fail(field, "duplicate field"))
			}
			seen[i] = true
			v, err := d.p.value(d.p.discard[:0])
			d.p.discard = v
			if err != nil {
				return d.fatal("changes."+key+"."+string(m), err)
			}
			*dst = append(json.RawMessage(nil), v...)
			return nil
		})
		ev.Changes[key] = c
		return err
	})
	if len(ev.Changes) == 0 {
		ev.Changes = nil // {} is absent, as in a leaf
	}
	return err
}

func (d *decoder) tags(ev *Event) error {
	if ok, err := d.object("tags"); !ok || err != nil {
		return err
	}
	ev.Tags = make(map[string]string)
	err := d.members("tags", func(name []byte) error {
		key := d.p.keyString(name)
		if _, dup := ev.Tags[key]; dup {
			return d.skip("tags."+key, d.fail("tags."+key, "duplicate field"))
		}
		if d.p.peek() != '"' {
			return d.skip("tags."+key, d.fail("tags."+key, "must be a string (got %s)", d.p.kind()))
		}
		v, err := d.p.str()
		if err != nil {
			return d.fatal("tags."+key, err)
		}
		ev.Tags[key] = v
		return nil
	})
	if len(ev.Tags) == 0 {
		ev.Tags = nil // {} is absent, as in a leaf
	}
	return err
}
