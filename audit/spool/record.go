package spool

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// A record on disk is a 12-byte header followed by its payload:
//
//	offset  size  field
//	0       4     magic "\xd9sp1"
//	4       4     payload length n, big-endian, at most MaxRecordBytes
//	8       4     CRC-32C (Castagnoli) of bytes 4..8 and of the payload
//	12      n     payload
//
// The checksum covers the length, so a torn or garbled header is caught as
// surely as a torn payload. The magic lets Parse find the next record after
// a damaged one instead of giving up on the rest of the segment.
const (
	headerSize = 12
	// MaxRecordBytes bounds one payload. A larger length field is damage.
	MaxRecordBytes = 1 << 20
)

var (
	magic      = [4]byte{0xd9, 's', 'p', '1'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// AppendRecord appends the framed form of payload to dst. It panics if the
// payload is longer than MaxRecordBytes: callers check sizes first.
func AppendRecord(dst, payload []byte) []byte {
	if len(payload) > MaxRecordBytes {
		panic("spool: record too large")
	}
	var h [headerSize]byte
	copy(h[:4], magic[:])
	binary.BigEndian.PutUint32(h[4:8], uint32(len(payload)))
	crc := crc32.Update(crc32.Checksum(h[4:8], castagnoli), castagnoli, payload)
	binary.BigEndian.PutUint32(h[8:12], crc)
	return append(append(dst, h[:]...), payload...)
}

// Record is one record found by Parse.
type Record struct {
	// Offset and End delimit the framed record (header included) in the
	// parsed bytes.
	Offset, End int
	// Payload aliases the parsed bytes.
	Payload []byte
}

// Span is a range [Offset, End) of bytes that hold no valid record: a torn
// tail left by a crash in the middle of a write, or corruption.
type Span struct{ Offset, End int }

// Parse reads the records in data, the contents of a segment or of a part of
// one that starts at a record boundary. It never fails: bytes that do not
// form a valid record are reported in damaged, and parsing resumes at the
// next offset where a valid record starts. Records and damaged spans
// together cover data exactly, in order.
//
// A crash in the middle of a write leaves at most a torn last record, which
// comes back as one damaged span at the end; the records before it are all
// returned. Those bytes were never acknowledged, since an append returns only
// after its fsync.
func Parse(data []byte) (records []Record, damaged []Span) {
	off := 0
	for off < len(data) {
		if n, ok := recordAt(data, off); ok {
			records = append(records, Record{Offset: off, End: off + n, Payload: data[off+headerSize : off+n]})
			off += n
			continue
		}
		next := resync(data, off+1)
		damaged = append(damaged, Span{Offset: off, End: next})
		off = next
	}
	return records, damaged
}

// recordAt reports whether a valid record starts at off, and its framed size.
func recordAt(data []byte, off int) (int, bool) {
	rest := data[off:]
	if len(rest) < headerSize || !bytes.Equal(rest[:4], magic[:]) {
		return 0, false
	}
	n := binary.BigEndian.Uint32(rest[4:8])
	if n > MaxRecordBytes || int(n) > len(rest)-headerSize {
		return 0, false
	}
	crc := crc32.Update(crc32.Checksum(rest[4:8], castagnoli), castagnoli, rest[headerSize:headerSize+int(n)])
	if crc != binary.BigEndian.Uint32(rest[8:12]) {
		return 0, false
	}
	return headerSize + int(n), true
}

// resync returns the first offset at or after from where a valid record
// starts, or len(data).
func resync(data []byte, from int) int {
	for from < len(data) {
		i := bytes.Index(data[from:], magic[:])
		if i < 0 {
			return len(data)
		}
		if _, ok := recordAt(data, from+i); ok {
			return from + i
		}
		from += i + 1
	}
	return len(data)
}
