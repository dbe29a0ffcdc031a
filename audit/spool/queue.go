package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/ledger-dev/ledger/internal/durable"
)

// ErrTooLarge is returned by Append for a payload over MaxRecordBytes.
var ErrTooLarge = errors.New("spool record too large")

// Append writes payloads as records at the end of the spool and returns
// once they are durable (written and fdatasynced), with the position just
// past them. On an error, some of the records may still have reached the
// disk and be delivered later.
func (s *Spool) Append(payloads ...[]byte) (Position, error) {
	size := 0
	for _, p := range payloads {
		if len(p) > MaxRecordBytes {
			return Position{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(p), MaxRecordBytes)
		}
		size += headerSize + len(p)
	}
	buf := make([]byte, 0, size)
	for _, p := range payloads {
		buf = AppendRecord(buf, p)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	f, seq, err := s.segment()
	if err != nil {
		return Position{}, err
	}
	if _, err = f.Write(buf); err == nil {
		err = unix.Fdatasync(int(f.Fd()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.sealAfterError(f, seq)
		return Position{}, fmt.Errorf("couldn't write spool segment %s: %w", segmentName(seq), err)
	}
	// At this point the records are durable: Peek may hand them out.
	s.sizes[seq] += int64(size)
	s.bytes += int64(size)
	end := Position{Segment: seq, Offset: s.sizes[seq]}
	if s.sizes[seq] >= s.cfg.SegmentBytes {
		s.active.Close()
		s.active = nil
	}
	return end, nil
}

// segment returns the active segment, first deleting it if it is drained
// and worth deleting, and creating a new one if there is none. The caller
// holds wmu.
func (s *Spool) segment() (*os.File, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, ErrClosed
	}
	if s.active != nil && s.drained(s.activeSeq) && s.sizes[s.activeSeq] >= s.cfg.SegmentBytes/16 {
		s.active.Close()
		s.active = nil
		s.remove(s.activeSeq)
	}
	if s.active != nil {
		return s.active, s.activeSeq, nil
	}
	seq := s.cursor.Segment + 1
	if len(s.segs) > 0 {
		seq = max(seq, s.segs[len(s.segs)-1]+1)
	}
	f, err := os.OpenFile(s.path(seq), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("couldn't create spool segment: %w", err)
	}
	if err := durable.SyncDir(s.cfg.Dir); err != nil {
		f.Close()
		os.Remove(s.path(seq))
		return nil, 0, err
	}
	s.segs = append(s.segs, seq)
	s.sizes[seq] = 0
	s.active, s.activeSeq = f, seq
	return f, seq, nil
}

// sealAfterError stops appending to segment seq after a failed write: what
// reached the file is delivered as far as it parses, and the next Append
// starts a new segment. The caller holds mu.
func (s *Spool) sealAfterError(f *os.File, seq uint64) {
	if info, err := f.Stat(); err == nil {
		s.bytes += info.Size() - s.sizes[seq]
		s.sizes[seq] = info.Size()
	}
	f.Close()
	s.active = nil
}

// Peek returns up to maxRecords unacknowledged records totalling at most
// maxBytes of payload (always at least one record when there is one), the
// oldest first, and the position to pass to Ack once they are delivered. It
// returns no records when the spool holds nothing unacknowledged. Payloads
// must not be modified. Peeking again without Ack returns the same records.
func (s *Spool) Peek(maxRecords, maxBytes int) ([][]byte, Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, Position{}, ErrClosed
	}
	for {
		i, _ := slices.BinarySearch(s.segs, s.cursor.Segment)
		if i == len(s.segs) {
			return nil, s.cursor, nil
		}
		seq := s.segs[i]
		if seq != s.cursor.Segment {
			s.cursor = Position{Segment: seq}
		}
		if err := s.fill(seq); err != nil {
			return nil, Position{}, err
		}
		if len(s.rd.recs) > 0 {
			break
		}
		if s.active != nil && seq == s.activeSeq {
			return nil, s.cursor, nil
		}
		s.cursor.Offset = s.sizes[seq]
		s.remove(seq)
	}
	var out [][]byte
	total := 0
	for _, r := range s.rd.recs {
		if len(out) > 0 && (len(out) >= maxRecords || total+len(r.payload) > maxBytes) {
			break
		}
		out = append(out, r.payload)
		total += len(r.payload)
	}
	end := Position{Segment: s.rd.seq, Offset: s.rd.recs[len(out)-1].end}
	if len(out) == len(s.rd.recs) {
		end.Offset = s.rd.parsedTo // past any damaged bytes after the last record
	}
	return out, end, nil
}

// fill parses the bytes of segment seq that are durable and not yet parsed.
// The caller holds mu.
func (s *Spool) fill(seq uint64) error {
	if s.rd.seq != seq || s.rd.f == nil {
		if s.rd.f != nil {
			s.rd.f.Close()
		}
		f, err := os.Open(s.path(seq))
		if err != nil {
			return fmt.Errorf("couldn't open spool segment: %w", err)
		}
		s.rd = reader{seq: seq, f: f, parsedTo: s.cursor.Offset}
	}
	limit := s.sizes[seq]
	if s.rd.parsedTo >= limit {
		return nil
	}
	buf := make([]byte, limit-s.rd.parsedTo)
	n, err := s.rd.f.ReadAt(buf, s.rd.parsedTo)
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		return fmt.Errorf("couldn't read spool segment %s: %w", segmentName(seq), err)
	}
	recs, damaged := Parse(buf[:n])
	for _, d := range damaged {
		s.log.Warn("spool segment has damaged bytes; skipping them", "segment", filepath.Join(s.cfg.Dir, segmentName(seq)),
			"offset", s.rd.parsedTo+int64(d.Offset), "bytes", d.End-d.Offset)
	}
	for _, r := range recs {
		s.rd.recs = append(s.rd.recs, record{end: s.rd.parsedTo + int64(r.End), payload: r.Payload})
	}
	if n < len(buf) {
		s.log.Warn("spool segment is shorter than expected", "segment", segmentName(seq), "bytes", s.rd.parsedTo+int64(n), "expected", limit)
	}
	s.rd.parsedTo = limit
	return nil
}

// Ack acknowledges every record before end, a position returned by Peek.
// A sealed segment whose records are all acknowledged is deleted.
func (s *Spool) Ack(end Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if end.Less(s.cursor) {
		return nil
	}
	if end.Segment != s.cursor.Segment || end.Offset > s.rd.parsedTo && end.Segment == s.rd.seq {
		return fmt.Errorf("spool: Ack(%v) is beyond what Peek returned", end)
	}
	if s.rd.seq == end.Segment {
		i := 0
		for i < len(s.rd.recs) && s.rd.recs[i].end <= end.Offset {
			i++
		}
		s.rd.recs = s.rd.recs[i:]
	}
	s.cursor = end
	if (s.active == nil || s.activeSeq != end.Segment) && end.Offset >= s.sizes[end.Segment] {
		s.remove(end.Segment)
	}
	return nil
}
