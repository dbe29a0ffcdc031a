package tiles

import (
	"crypto/sha256"
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

const (
	leafPrefix = 0x00 // RFC 6962 domain separation: leaf hashes
	nodePrefix = 0x01 // and interior node hashes

	// leafBufSize bounds the entries LeafHash hashes from a stack buffer.
	leafBufSize = 1024
)

// LeafHash returns the RFC 6962 leaf hash of entry: SHA-256(0x00 || entry).
//
// It computes the same function as rfc6962.DefaultHasher.HashLeaf, without
// that hasher's allocations: typical entries are copied after the prefix
// byte into a buffer on the stack and hashed in one call.
func LeafHash(entry []byte) Hash {
	if len(entry) >= leafBufSize {
		h := sha256.New()
		h.Write([]byte{leafPrefix})
		h.Write(entry)
		return Hash(h.Sum(nil))
	}
	var buf [leafBufSize]byte
	buf[0] = leafPrefix
	n := copy(buf[1:], entry)
	return sha256.Sum256(buf[:1+n])
}

// NodeHash returns the RFC 6962 interior node hash SHA-256(0x01 || left || right).
// Like LeafHash it matches rfc6962.DefaultHasher and does not allocate.
func NodeHash(left, right Hash) Hash {
	var buf [1 + 2*HashSize]byte
	buf[0] = nodePrefix
	copy(buf[1:], left[:])
	copy(buf[1+HashSize:], right[:])
	return sha256.Sum256(buf[:])
}

// ParseHash decodes a canonical standard-base64 hash of exactly 32 bytes.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := decodeBase64(s)
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
	// A tile's worth of hashes fits on the stack; only bigger subtrees
	// (none today) allocate.
	var buf [TileWidth]Hash
	level := buf[:]
	if len(nodes) > TileWidth {
		level = make([]Hash, len(nodes))
	}
	return subtreeRootInPlace(level[:copy(level, nodes)])
}

// subtreeRootInPlace is subtreeRoot, overwriting nodes as it hashes.
func subtreeRootInPlace(nodes []Hash) Hash {
	n := len(nodes)
	if n == 0 || n&(n-1) != 0 {
		panic(fmt.Sprintf("tiles: bad subtree width %d", n))
	}
	for ; n > 1; n /= 2 {
		for i := range n / 2 {
			nodes[i] = NodeHash(nodes[2*i], nodes[2*i+1])
		}
	}
	return nodes[0]
}
