package tiles

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Signature algorithm bytes of C2SP signed-note keys.
const (
	algEd25519       = 0x01 // a log's Ed25519 signature
	algCosignatureV1 = 0x04 // a witness's Ed25519 cosignature/v1
)

// cosignatureSize is the length of a cosignature/v1 signature after the key
// ID: an 8-byte big-endian timestamp and a 64-byte Ed25519 signature.
const cosignatureSize = 8 + ed25519.SignatureSize

// keyID computes a signed-note key ID: the first four bytes of
// SHA-256(name || 0x0A || alg || public key), big-endian.
func keyID(name string, alg byte, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', alg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// cosignedMessage returns the message a cosignature/v1 signs:
// "cosignature/v1\ntime <ts>\n" followed by the checkpoint note text.
func cosignedMessage(ts uint64, text []byte) []byte {
	msg := make([]byte, 0, 32+len(text))
	msg = append(msg, "cosignature/v1\ntime "...)
	msg = strconv.AppendUint(msg, ts, 10)
	msg = append(msg, '\n')
	return append(msg, text...)
}

// CosignatureVerifier verifies C2SP tlog-cosignature cosignature/v1 lines
// (signature type 0x04). It implements note.Verifier.
type CosignatureVerifier struct {
	name string
	id   uint32
	pub  ed25519.PublicKey
}

// NewCosignatureVerifier parses a cosignature/v1 vkey,
// name+hex8(keyID)+base64(0x04 || public key). The key ID must recompute from
// the name and key: a vkey whose ID does not match is refused.
func NewCosignatureVerifier(vkey string) (*CosignatureVerifier, error) {
	name, id, key, err := parseVKey(vkey)
	if err != nil {
		return nil, err
	}
	if len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1 {
		return nil, fmt.Errorf("vkey %q is not an Ed25519 cosignature/v1 key (type 0x04)", vkey)
	}
	pub := ed25519.PublicKey(key[1:])
	if want := keyID(name, algCosignatureV1, pub); id != want {
		return nil, fmt.Errorf("vkey %q has key ID %08x, but its key hashes to %08x", vkey, id, want)
	}
	return &CosignatureVerifier{name: name, id: id, pub: pub}, nil
}

// Name returns the witness's key name.
func (v *CosignatureVerifier) Name() string { return v.name }

// KeyHash returns the key ID.
func (v *CosignatureVerifier) KeyHash() uint32 { return v.id }

// Verify reports whether sig (without the key ID) is a valid cosignature/v1
// over the checkpoint text msg.
func (v *CosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != cosignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	if ts > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.pub, cosignedMessage(ts, msg), sig[8:])
}

// VKey returns the verifier key in vkey format.
func (v *CosignatureVerifier) VKey() string {
	return formatVKey(v.name, v.id, algCosignatureV1, v.pub)
}

// CosignatureTime returns the timestamp of a cosignature/v1 signature line
// value (base64 of key ID, timestamp and signature).
func CosignatureTime(sig note.Signature) (time.Time, error) {
	raw, err := base64.StdEncoding.DecodeString(sig.Base64)
	if err != nil || len(raw) != 4+cosignatureSize {
		return time.Time{}, errors.New("not a cosignature/v1 signature")
	}
	ts := binary.BigEndian.Uint64(raw[4:])
	if ts > 1<<63-1 {
		return time.Time{}, errors.New("cosignature timestamp exceeds 2^63-1")
	}
	return time.Unix(int64(ts), 0).UTC(), nil
}

// CosignatureSigner produces cosignature/v1 signatures. It implements note.Signer.
type CosignatureSigner struct {
	name string
	id   uint32
	priv ed25519.PrivateKey
	now  func() time.Time
}

// NewCosignatureSigner parses a private key in the x/mod skey format,
// PRIVATE+KEY+name+hex8(keyID)+base64(alg || seed), with alg 0x04 (or 0x01,
// whose key is then used for cosignatures under its 0x04 key ID). The key ID
// must be the one the name, type and key hash to. now supplies the timestamp
// of each cosignature; nil means time.Now.
func NewCosignatureSigner(skey string, now func() time.Time) (*CosignatureSigner, error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	if !ok {
		return nil, errors.New("private key does not start with PRIVATE+KEY+")
	}
	name, id, key, err := parseVKey(rest)
	if err != nil {
		return nil, errors.New("malformed private key")
	}
	if len(key) != 1+ed25519.SeedSize || (key[0] != algCosignatureV1 && key[0] != algEd25519) {
		return nil, errors.New("private key is not an Ed25519 key")
	}
	priv := ed25519.NewKeyFromSeed(key[1:])
	if now == nil {
		now = time.Now
	}
	pub := priv.Public().(ed25519.PublicKey)
	// As x/mod's note.NewSigner does: a key ID that does not recompute
	// means a corrupted or mislabelled key.
	if id != keyID(name, key[0], pub) {
		return nil, errors.New("private key ID does not match its key")
	}
	return &CosignatureSigner{name: name, id: keyID(name, algCosignatureV1, pub), priv: priv, now: now}, nil
}

// Name returns the witness's key name.
func (s *CosignatureSigner) Name() string { return s.name }

// KeyHash returns the cosignature/v1 key ID.
func (s *CosignatureSigner) KeyHash() uint32 { return s.id }

// Sign returns the timestamp followed by the Ed25519 signature of the
// cosigned message for checkpoint text msg.
func (s *CosignatureSigner) Sign(msg []byte) ([]byte, error) {
	t := s.now().Unix()
	if t < 0 {
		return nil, errors.New("clock is before 1970")
	}
	ts := uint64(t)
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, cosignatureSize), ts)
	return append(sig, ed25519.Sign(s.priv, cosignedMessage(ts, msg))...), nil
}

// Verifier returns the verifier for s's signatures.
func (s *CosignatureSigner) Verifier() *CosignatureVerifier {
	return &CosignatureVerifier{name: s.name, id: s.id, pub: s.priv.Public().(ed25519.PublicKey)}
}

// GenerateCosignatureKey creates a cosignature/v1 key pair named name and
// returns the private key (skey format, type 0x04) and the vkey.
func GenerateCosignatureKey(rand io.Reader, name string) (skey, vkey string, err error) {
	if !validKeyName(name) {
		return "", "", fmt.Errorf("invalid key name %q", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return "", "", err
	}
	id := keyID(name, algCosignatureV1, pub)
	skey = "PRIVATE+KEY+" + formatVKey(name, id, algCosignatureV1, priv.Seed())
	return skey, formatVKey(name, id, algCosignatureV1, pub), nil
}

// parseVKey splits name+hex8+base64 into its parts.
func parseVKey(vkey string) (name string, id uint32, key []byte, err error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hexID, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validKeyName(name) || len(hexID) != 8 {
		return "", 0, nil, fmt.Errorf("malformed vkey %q", vkey)
	}
	id64, err := strconv.ParseUint(hexID, 16, 32)
	if err != nil || strings.ToLower(hexID) != hexID {
		return "", 0, nil, fmt.Errorf("malformed key ID in vkey %q", vkey)
	}
	key, err = decodeBase64(b64)
	if err != nil || len(key) == 0 {
		return "", 0, nil, fmt.Errorf("malformed key in vkey %q", vkey)
	}
	return name, uint32(id64), key, nil
}

// decodeBase64 decodes canonical standard base64. The standard library's
// strict decoder still skips '\r' and '\n' anywhere in its input, so they
// are refused here: otherwise many strings would decode to the same bytes.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("base64 contains a line break")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

func formatVKey(name string, id uint32, alg byte, key []byte) string {
	return fmt.Sprintf("%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(append([]byte{alg}, key...)))
}

// validKeyName reports whether name can be a signed-note key name: non-empty
// UTF-8 with no Unicode space, no "+" and no control characters.
func validKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && !strings.Contains(name, "+") &&
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}
