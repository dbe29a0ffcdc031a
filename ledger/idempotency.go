package ledger

import "github.com/ledger-dev/ledger/tiles"

// keyRecord is where the entry holding an idempotency key landed: what a
// duplicate of it is answered with.
type keyRecord struct {
	index uint64
	hash  tiles.Hash
}

// indexKey returns the form of an idempotency key held in the in-memory key
// index: a canonical lowercase UUID (the usual event id) as a zero byte and
// its 16 bytes, which no other key can be; any other key as a copy of its
// own. Either way the index never pins the request body the key was cut
// from, and costs about 100 bytes per entry of the log.
func indexKey(key string) string {
	if len(key) != 36 {
		return cloneKey(key)
	}
	var b [17]byte
	j := 1
	for i := 0; i < 36; i++ {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if key[i] != '-' {
				return cloneKey(key)
			}
			continue
		}
		hi, ok1 := hexDigit(key[i])
		lo, ok2 := hexDigit(key[i+1])
		if !ok1 || !ok2 {
			return cloneKey(key)
		}
		b[j] = hi<<4 | lo
		j++
		i++
	}
	return string(b[:])
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// cloneKey copies key. A key starting with a byte below 2 gets a 1 byte in
// front, so that no copy starts with the zero byte of packed UUIDs and the
// mapping stays one to one. The event schema refuses such keys anyway; the
// ledger does not rely on it.
func cloneKey(key string) string {
	if key == "" {
		return ""
	}
	if key[0] < 2 {
		return "\x01" + key
	}
	return string([]byte(key))
}
