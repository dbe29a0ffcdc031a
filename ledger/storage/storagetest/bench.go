package storagetest

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
)

// BenchLeaf returns the i-th benchmark entry: about 400 bytes shaped like
// an audit event, JSON keys that repeat from entry to entry and values that
// do not (150 random bytes), so that a driver's compression gets realistic
// input.
func BenchLeaf(rng *rand.Rand, i int) []byte {
	noise := make([]byte, 150)
	for j := range noise {
		noise[j] = byte(rng.Uint32())
	}
	return fmt.Appendf(nil, `{"v":1,"id":"%016x","timestamp":"2026-11-22T10:%02d:%02dZ","event_type":"data.exported",`+
		`"action":"export","actor":{"id":"user-%d","type":"user"},"resource":{"type":"record","id":"%d"},`+
		`"result":"success","details":"%s"}`,
		rng.Uint64(), i%60, rng.IntN(60), rng.IntN(1000), rng.IntN(1<<20), base64.StdEncoding.EncodeToString(noise))
}
