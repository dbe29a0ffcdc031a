package tiles

import (
	"encoding/base64"
	"fmt"

	"github.com/transparency-dev/merkle/rfc6962"
)

// HashSize is the size of a SHA-256 tree hash.
const HashSize = 32

// Hash is an RFC 6962 SHA-256 tree hash.
type Hash [HashSize]byte

// String returns the standard base64 encoding of h, as checkpoints write it.
func (h Hash) String() string { return base64.StdEncoding.EncodeToString(h[:]) }

// EmptyRoot is the root hash of the empty tree, SHA-256 of no bytes.
var EmptyRoot = mustHash(rfc6962.DefaultHasher.EmptyRoot())

// LeafHash returns the RFC 6962 leaf hash of entry: SHA-256(0x00 || entry).
func LeafHash(entry []byte) Hash { return mustHash(rfc6962.DefaultHasher.HashLeaf(entry)) }

// NodeHash returns the RFC 6962 interior node hash SHA-256(0x01 || left || right).
func NodeHash(left, right Hash) Hash {
	return mustHash(rfc6962.DefaultHasher.HashChildren(left[:], right[:]))
}

// ParseHash decodes a canonical standard-base64 hash of exactly 32 bytes.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("hash %q is not canonical base64: %w", s, err)
	}
	if len(b) != HashSize {
		return h, fmt.Errorf("hash %q has %d bytes, want %d", s, len(b), HashSize)
	}
	copy(h[:], b)
	return h, nil
}

// mustHash converts a hasher output, which is always 32 bytes, to a Hash.
func mustHash(b []byte) Hash {
	if len(b) != HashSize {
		panic(fmt.Sprintf("tiles: hasher returned %d bytes", len(b)))
	}
	return Hash(b)
}

// hashSlices converts hashes to the [][]byte form the merkle packages use.
func hashSlices(hs []Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// subtreeRoot returns the Merkle root of a perfect subtree given its 2^k
// bottom nodes, hashing pairwise. It panics if len(nodes) is not a power of
// two: callers compute the range from tile math.
func subtreeRoot(nodes []Hash) Hash {
	n := len(nodes)
	if n == 0 || n&(n-1) != 0 {
		panic(fmt.Sprintf("tiles: bad subtree width %d", n))
	}
	level := make([]Hash, n)
	copy(level, nodes)
	for n > 1 {
		for i := 0; i < n/2; i++ {
			level[i] = NodeHash(level[2*i], level[2*i+1])
		}
		n /= 2
	}
	return level[0]
}
