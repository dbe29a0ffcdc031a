// Package spool is a durable on-disk queue: a directory of append-only
// segment files of checksummed records. Append returns once its records are
// fsynced; a consumer reads them in order with Peek and removes them with Ack
// only once it has delivered them. It is the audit SDK's buffer for events the
// ledger has not yet acknowledged, so that neither an application crash nor
// a ledger outage loses one.
//
// # Layout
//
// DIR/LOCK is held (flock) by the one process using the spool. Segments are
// DIR/<16 hex digits>.seg, numbered upwards; the record format is described
// at AppendRecord. Appends go to the newest segment, which is sealed once it
// holds Config.SegmentBytes, or once everything in it was acknowledged and it
// holds more than a sixteenth of that (so a drained spool does not keep a
// large file around). A sealed segment is deleted once all its records are
// acknowledged. A new segment is created, and the directory fsynced, before
// the first record is written to it.
//
// What a crash leaves: every record whose Append returned is on disk. The
// acknowledgement cursor is kept in memory only, so after a restart the
// records of the oldest remaining segment that were already acknowledged are
// delivered again. The consumer must tolerate that (the audit SDK's events
// carry idempotency keys). A record torn by a crash in the middle of an
// Append, which therefore never returned, is dropped by Parse on the next
// start; damage elsewhere in a segment costs only the damaged bytes.
package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ledger-dev/ledger/internal/lockfile"
)

// Config configures a Spool. Zero values take the documented defaults.
type Config struct {
	// Dir is the spool directory, created if missing. Required.
	Dir string
	// SegmentBytes is the size at which a segment is sealed and a new one
	// started. Default 4 MiB.
	SegmentBytes int64
	// Logger receives warnings about damaged records. Default slog.Default().
	Logger *slog.Logger
}

// Position is a place in the spool: a segment and a byte offset in it.
// Positions order by Segment, then Offset.
type Position struct {
	Segment uint64
	Offset  int64
}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	return p.Segment < q.Segment || p.Segment == q.Segment && p.Offset < q.Offset
}

// ErrClosed is returned by calls on a closed Spool.
var ErrClosed = errors.New("spool is closed")

// Spool is an open spool directory. Append may be called from one goroutine
// at a time alongside one consumer calling Peek and Ack.
type Spool struct {
	cfg  Config
	log  *slog.Logger
	lock *os.File

	wmu sync.Mutex // serialises Append; taken before mu

	mu        sync.Mutex
	closed    bool
	segs      []uint64         // segments on disk, ascending; the last may be active
	sizes     map[uint64]int64 // bytes of every segment on disk (for the active one: synced bytes)
	active    *os.File         // the segment being appended to, or nil
	activeSeq uint64
	bytes     int64    // total bytes of all segments
	cursor    Position // first unacknowledged position
	rd        reader
}

// reader holds the parsed, unacknowledged records of the cursor's segment.
type reader struct {
	seq      uint64
	f        *os.File
	parsedTo int64
	recs     []record
}

// record is a parsed record with absolute offsets in its segment.
type record struct {
	end     int64
	payload []byte
}

// Open opens (creating if needed) the spool directory and takes its lock.
// It fails if another process holds the lock. The records already in the
// spool come first in Peek.
func Open(cfg Config) (*Spool, error) {
	if cfg.Dir == "" {
		return nil, errors.New("spool: Config.Dir is required")
	}
	if cfg.SegmentBytes < 0 {
		return nil, errors.New("spool: Config.SegmentBytes must not be negative")
	}
	if cfg.SegmentBytes == 0 {
		cfg.SegmentBytes = 4 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create spool directory: %w", err)
	}
	lock, err := lockfile.TryLock(filepath.Join(cfg.Dir, "LOCK"), 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool %s is in use by another process: %w", cfg.Dir, err)
	}
	s := &Spool{cfg: cfg, log: cfg.Logger, lock: lock, sizes: map[uint64]int64{}}
	if err := s.scan(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// scan lists the segments on disk.
func (s *Spool) scan() error {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("couldn't list spool directory: %w", err)
	}
	for _, e := range entries {
		seq, ok := parseSegmentName(e.Name())
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("couldn't stat spool segment %s: %w", e.Name(), err)
		}
		s.segs = append(s.segs, seq)
		s.sizes[seq] = info.Size()
		s.bytes += info.Size()
	}
	slices.Sort(s.segs)
	if len(s.segs) > 0 {
		s.cursor = Position{Segment: s.segs[0]}
	}
	return nil
}

func segmentName(seq uint64) string { return fmt.Sprintf("%016x.seg", seq) }

func parseSegmentName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	seq, err := strconv.ParseUint(hex, 16, 64)
	return seq, err == nil
}

func (s *Spool) path(seq uint64) string { return filepath.Join(s.cfg.Dir, segmentName(seq)) }

// Bytes returns the bytes the spool's segments take on disk, acknowledged
// records included until their segment is deleted.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// End returns the position just past the last durable record.
func (s *Spool) End() Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 {
		return s.cursor
	}
	last := s.segs[len(s.segs)-1]
	return Position{Segment: last, Offset: s.sizes[last]}
}

// Close closes the spool and releases its lock. If everything was
// acknowledged, the last segment is deleted too.
func (s *Spool) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.rd.f != nil {
		s.rd.f.Close()
	}
	var err error
	if s.active != nil {
		err = s.active.Close()
		s.active = nil
		if s.drained(s.activeSeq) {
			s.remove(s.activeSeq)
		}
	}
	return errors.Join(err, s.lock.Close())
}

// drained reports whether every record of segment seq is acknowledged and
// nothing follows it. The caller holds mu.
func (s *Spool) drained(seq uint64) bool {
	return s.cursor == Position{Segment: seq, Offset: s.sizes[seq]} && s.segs[len(s.segs)-1] == seq
}

// remove deletes segment seq. The caller holds mu. A failed removal only
// means its records are delivered again after a restart.
func (s *Spool) remove(seq uint64) {
	if err := os.Remove(s.path(seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("couldn't remove acknowledged spool segment", "segment", segmentName(seq), "err", err)
	}
	s.segs = slices.DeleteFunc(s.segs, func(q uint64) bool { return q == seq })
	s.bytes -= s.sizes[seq]
	delete(s.sizes, seq)
	if s.rd.seq == seq && s.rd.f != nil {
		s.rd.f.Close()
		s.rd = reader{}
	}
}
