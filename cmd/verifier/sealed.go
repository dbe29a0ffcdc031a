package main

import "encoding/json"

// checkSealed reports the sealed members of a leaf of version 3: the proof
// covers their ciphertext, and so holds whether or not the data subject's
// key still exists (it may have been destroyed to erase them). The leaf is
// read as plain JSON, as checkTimes reads it.
func checkSealed(r *report, entry []byte) {
	var leaf struct {
		Sealed *struct {
			KID string `json:"kid"`
		} `json:"sealed"`
	}
	if json.Unmarshal(entry, &leaf) != nil || leaf.Sealed == nil {
		return
	}
	r.ok("sealed", "inclusion verified; members of the event are sealed under subject key "+leaf.Sealed.KID+
		" (the proof covers their ciphertext, whether or not the key still exists)", map[string]any{"kid": leaf.Sealed.KID})
}
