package evidence

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
)

// sealedInfo begins the associated data of a leaf's sealed members (see
// the package documentation of ledger/event): "ledger sealed v3" 0x00
// tenant_id 0x00 id 0x00 kid.
const sealedInfo = "ledger sealed v3\x00"

// sameOpenedEvent checks that the event shown is the one the leaf encodes
// with its sealed members opened by the event key ek: the leaf's members
// without "v" and "sealed", the sealed members put back in their places,
// and "sealed": "open", as a ledger shows an event to a reader. The leaf's
// ciphertext is authenticated (AES-256-GCM), so one changed byte of the
// members shown fails the check.
func sameOpenedEvent(leaf, ev, ek []byte) error {
	var fromLeaf map[string]any
	if err := decodeNumbers(leaf, &fromLeaf); err != nil || fromLeaf == nil {
		return errors.New("its leaf is not an event, but an event key is given")
	}
	pt, err := openSealed(fromLeaf, ek)
	if err != nil {
		return err
	}
	var members map[string]any
	if err := decodeNumbers(pt, &members); err != nil || members == nil {
		return errors.New("the sealed members of its leaf are not a JSON object")
	}
	delete(fromLeaf, "v")
	delete(fromLeaf, "sealed")
	if err := putBack(fromLeaf, members); err != nil {
		return err
	}
	fromLeaf["sealed"] = "open"
	var shown map[string]any
	if err := decodeNumbers(ev, &shown); err != nil {
		return fmt.Errorf("its event is not a JSON object: %w", err)
	}
	if !reflect.DeepEqual(fromLeaf, shown) {
		return errors.New("the event shown differs from the event its leaf committed to, opened with its event key")
	}
	return nil
}

// openSealed decrypts the "sealed" member of the leaf's object with the
// event key ek.
func openSealed(leaf map[string]any, ek []byte) ([]byte, error) {
	sealed, _ := leaf["sealed"].(map[string]any)
	kid, _ := sealed["kid"].(string)
	nonceText, _ := sealed["nonce"].(string)
	ctText, _ := sealed["ct"].(string)
	nonce, nerr := base64.StdEncoding.Strict().DecodeString(nonceText)
	ct, cerr := base64.StdEncoding.Strict().DecodeString(ctText)
	if sealed == nil || kid == "" || nerr != nil || cerr != nil || len(nonce) != 12 {
		return nil, errors.New("an event key is given, but its leaf has no sealed members")
	}
	tenant, _ := leaf["tenant_id"].(string)
	id, _ := leaf["id"].(string)
	if len(ek) != 32 {
		return nil, fmt.Errorf("its event key has %d bytes, not 32", len(ek))
	}
	block, err := aes.NewCipher(ek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, nonce, ct, []byte(sealedInfo+tenant+"\x00"+id+"\x00"+kid))
	if err != nil {
		return nil, fmt.Errorf("its event key does not open the sealed members of its leaf (key %s)", kid)
	}
	return pt, nil
}

// putBack puts the sealed members back into the event: a member at the top
// level, or, for the objects "actor" and "tags", members of the event's
// own. A member both in clear and sealed is an invalid leaf.
func putBack(ev, members map[string]any) error {
	for k, v := range members {
		sub, isObject := v.(map[string]any)
		have, exists := ev[k]
		if !exists {
			ev[k] = v
			continue
		}
		into, ok := have.(map[string]any)
		if !isObject || !ok || k != "actor" && k != "tags" {
			return fmt.Errorf("its leaf has %s both in clear and sealed", k)
		}
		for sk, sv := range sub {
			if _, dup := into[sk]; dup {
				return fmt.Errorf("its leaf has %s.%s both in clear and sealed", k, sk)
			}
			into[sk] = sv
		}
	}
	return nil
}
