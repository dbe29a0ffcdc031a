package event

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Sealed is the "sealed" member of a version 3 leaf: members of the event
// encrypted with AES-256-GCM under a key derived for this one event from
// its data subject's key. The leaf commits to the ciphertext, so the leaf
// verifies whether or not the subject's key still exists.
type Sealed struct {
	// KID names the subject's key: 32 lowercase hex digits, random. It is a
	// pseudonym of the subject, not the subject.
	KID string `json:"kid"`
	// Nonce is the AES-GCM nonce, 12 bytes.
	Nonce []byte `json:"nonce"`
	// CT is the ciphertext of the sealed members followed by the 16-byte
	// GCM tag.
	CT []byte `json:"ct"`
}

// SealableFields are the members that Sealing.Fields may name, in leaf
// order. The others identify the event (id, tenant_id, timestamps), say what
// happened (event_type, action, resource, result) or who stands behind it
// (actor.id, actor.type, submitter), and stay in clear.
var SealableFields = []string{"actor.email", "actor.role", "failure_reason", "ip_address",
	"user_agent", "session_id", "reason", "changes"}

// DefaultSealedFields are the members sealed when the configuration names
// none: those that most often hold personal data.
var DefaultSealedFields = []string{"actor.email", "ip_address", "user_agent", "reason", "changes"}

// Sealing says which members of an event Seal encrypts.
type Sealing struct {
	// Fields are members of SealableFields.
	Fields []string
	// Tags are tag names, sealed in addition to Fields.
	Tags []string
}

// Check reports a field that cannot be sealed.
func (s Sealing) Check() error {
	for _, f := range s.Fields {
		if !slices.Contains(SealableFields, f) {
			return fmt.Errorf("field %q cannot be sealed; sealable fields are %v", f, SealableFields)
		}
	}
	return nil
}

// ErrNotSealable is returned by Seal for a key or key id of the wrong form.
var ErrNotSealable = errors.New("cannot seal")

// Seal moves the members of e that s names, when set, into e.Sealed,
// encrypted under the data subject's 32-byte key sk, whose id is kid (32
// lowercase hex digits), with a nonce read from random. It reports false,
// changing nothing, when e has none of them set or is sealed already: its
// leaf then stays of version 1 or 2. The encryption is specified, with a
// test vector, in the package documentation.
func (e *Event) Seal(s Sealing, kid string, sk []byte, random io.Reader) (bool, error) {
	if e.Sealed != nil {
		return false, nil
	}
	if len(sk) != 32 || !validKID(kid) {
		return false, fmt.Errorf("%w: a subject key is 32 bytes and its id 32 lowercase hex digits", ErrNotSealable)
	}
	var p Event
	moveFields(&p, e, s.Fields, s.Tags)
	if p.empty() {
		return false, nil
	}
	restore := func() { moveFields(e, &p, SealableFields, tagNames(p.Tags)) }
	pt, err := p.plaintext()
	if err != nil {
		restore()
		return false, err
	}
	nonce := make([]byte, 12)
	if _, err := io.ReadFull(random, nonce); err != nil {
		restore()
		return false, fmt.Errorf("couldn't read a nonce: %w", err)
	}
	aead, info, err := eventAEAD(sk, e.TenantID, e.ID)
	if err != nil {
		restore()
		return false, err
	}
	e.Sealed = &Sealed{KID: kid, Nonce: nonce, CT: aead.Seal(nil, nonce, pt, sealAAD(info, kid))}
	return true, nil
}

// ErrOpen is returned by Open when the sealed members do not open with the
// key: a wrong key, or a leaf changed since it was sealed.
var ErrOpen = errors.New("sealed members do not open with this key")

// Open decrypts e.Sealed with the data subject's key sk, puts the members
// back in e and clears e.Sealed. An event that is not sealed is left as it
// is. It fails with ErrOpen for a wrong key or changed bytes, and leaves e
// unchanged on any error.
func (e *Event) Open(sk []byte) error {
	if e.Sealed == nil {
		return nil
	}
	if len(sk) != 32 {
		return fmt.Errorf("%w: a subject key is 32 bytes", ErrOpen)
	}
	aead, info, err := eventAEAD(sk, e.TenantID, e.ID)
	if err != nil {
		return err
	}
	pt, err := aead.Open(nil, e.Sealed.Nonce, e.Sealed.CT, sealAAD(info, e.Sealed.KID))
	if err != nil {
		return ErrOpen
	}
	p, err := parsePlaintext(pt)
	if err != nil {
		return err
	}
	for _, f := range SealableFields {
		if isSet(e, f) && isSet(p, f) {
			return fmt.Errorf("invalid leaf: %s is both in clear and sealed", f)
		}
	}
	for k := range p.Tags {
		if _, ok := e.Tags[k]; ok {
			return fmt.Errorf("invalid leaf: tags.%s is both in clear and sealed", k)
		}
	}
	moveFields(e, p, SealableFields, tagNames(p.Tags))
	e.Sealed = nil
	return nil
}

// EventKey returns the key that opens this one event's sealed members,
// derived from its data subject's key sk: EK = HKDF-SHA256(sk, salt empty,
// "ledger sealed v3" 0x00 tenant_id 0x00 id, 32). Given to a reader (in an
// evidence package, say), it opens this event and no other, and does not
// reveal sk.
func (e *Event) EventKey(sk []byte) ([]byte, error) {
	ek, _, err := eventKey(sk, e.TenantID, e.ID)
	return ek, err
}

// eventKey returns the event key and the info it was derived with.
func eventKey(sk []byte, tenant, id string) ([]byte, []byte, error) {
	if len(sk) != 32 {
		return nil, nil, fmt.Errorf("%w: a subject key is 32 bytes", ErrNotSealable)
	}
	info := "ledger sealed v3\x00" + tenant + "\x00" + id
	ek, err := hkdf.Key(sha256.New, sk, nil, info, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't derive the event key: %w", err)
	}
	return ek, []byte(info), nil
}

// eventAEAD returns the AES-256-GCM of the event key (see EventKey) and the
// info it was derived with, which is "ledger sealed v3" 0x00 tenant 0x00 id.
func eventAEAD(sk []byte, tenant, id string) (cipher.AEAD, []byte, error) {
	ek, info, err := eventKey(sk, tenant, id)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(ek)
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	return aead, info, nil
}

// sealAAD is the associated data: info 0x00 kid, so that a ciphertext moved
// to another event, tenant or key fails to open.
func sealAAD(info []byte, kid string) []byte {
	return append(append(append([]byte(nil), info...), 0), kid...)
}

// plaintext encodes e, which holds only sealable members, as the leaf
// would: its members in leaf order, canonical, empty ones left out.
func (e *Event) plaintext() ([]byte, error) {
	w := leafWriter{b: []byte{'{'}}
	w.members(e)
	w.b = append(w.b, '}')
	if w.err != nil {
		return nil, w.err
	}
	if w.b[1] == ',' {
		w.b = append(w.b[:1], w.b[2:]...)
	}
	return w.b, nil
}

// parsePlaintext decodes what plaintext wrote, strictly.
func parsePlaintext(pt []byte) (*Event, error) {
	d := decoder{p: parser{src: pt}, lim: DefaultLimits()}
	var p Event
	err := d.event(&p)
	if err == nil && d.p.pos != len(pt) {
		err = d.fatal("", d.p.errorf("unexpected data after the sealed members"))
	}
	if err != nil || len(d.errs) > 0 {
		return nil, fmt.Errorf("invalid sealed members: %s: %s", d.errs[0].Field, d.errs[0].Message)
	}
	var q Event
	moveFields(&q, &p, SealableFields, tagNames(p.Tags))
	if !p.empty() {
		return nil, errors.New("invalid sealed members: a member that cannot be sealed")
	}
	if out, err := q.plaintext(); err != nil || string(out) != string(pt) {
		return nil, errors.New("invalid sealed members: not in canonical form")
	}
	return &q, nil
}

// moveFields moves the named members and tags that are set from src to dst.
func moveFields(dst, src *Event, fields, tags []string) {
	for _, f := range fields {
		switch f {
		case "actor.email":
			if src.Actor.Email != "" {
				dst.Actor.Email, src.Actor.Email = src.Actor.Email, ""
			}
		case "actor.role":
			if src.Actor.Role != "" {
				dst.Actor.Role, src.Actor.Role = src.Actor.Role, ""
			}
		case "changes":
			if len(src.Changes) > 0 {
				dst.Changes, src.Changes = src.Changes, nil
			}
		default:
			if s := src.stringField(fieldOf([]byte(f))); s != nil && *s != "" {
				*dst.stringField(fieldOf([]byte(f))), *s = *s, ""
			}
		}
	}
	for _, k := range tags {
		v, ok := src.Tags[k]
		if !ok {
			continue
		}
		if dst.Tags == nil {
			dst.Tags = make(map[string]string)
		}
		dst.Tags[k] = v
		delete(src.Tags, k)
	}
	if src.Tags != nil && len(src.Tags) == 0 {
		src.Tags = nil
	}
}

// isSet reports whether the sealable member f of e is set.
func isSet(e *Event, f string) bool {
	switch f {
	case "actor.email":
		return e.Actor.Email != ""
	case "actor.role":
		return e.Actor.Role != ""
	case "changes":
		return len(e.Changes) > 0
	}
	return *e.stringField(fieldOf([]byte(f))) != ""
}

// empty reports whether e has no member of an event set.
func (e *Event) empty() bool {
	w := leafWriter{}
	w.members(e)
	return len(w.b) == 0
}

func tagNames(tags map[string]string) []string {
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	return names
}

func validKID(kid string) bool {
	if len(kid) != 32 {
		return false
	}
	for _, c := range []byte(kid) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// sealed decodes the "sealed" member of a leaf.
func (d *decoder) sealed(s *Sealed) error {
	var nonce, ct string
	if err := d.strings("sealed", []string{"kid", "nonce", "ct"}, &s.KID, &nonce, &ct); err != nil {
		return err
	}
	if !validKID(s.KID) {
		return d.fail("sealed.kid", "must be 32 lowercase hex digits")
	}
	var err error
	if s.Nonce, err = base64.StdEncoding.Strict().DecodeString(nonce); err != nil || len(s.Nonce) != 12 {
		return d.fail("sealed.nonce", "must be 12 bytes in standard base64")
	}
	if s.CT, err = base64.StdEncoding.Strict().DecodeString(ct); err != nil || len(s.CT) < 16+2 {
		return d.fail("sealed.ct", "must be a ciphertext and its 16-byte tag in standard base64")
	}
	return nil
}

// sealed appends the "sealed" member.
func (w *leafWriter) sealed(s *Sealed) {
	if !validKID(s.KID) || len(s.Nonce) != 12 || len(s.CT) < 16+2 {
		w.fail(errors.New("sealed: a key id of 32 lowercase hex digits, a 12-byte nonce and a ciphertext with its tag are needed"))
		return
	}
	w.b = append(w.b, `,"sealed":{"kid":"`...)
	w.b = append(w.b, s.KID...)
	w.b = append(w.b, `","nonce":"`...)
	w.b = base64.StdEncoding.AppendEncode(w.b, s.Nonce)
	w.b = append(w.b, `","ct":"`...)
	w.b = base64.StdEncoding.AppendEncode(w.b, s.CT)
	w.b = append(w.b, `"}`...)
}
