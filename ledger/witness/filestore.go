package witness

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ledger-dev/ledger/internal/durable"
	"github.com/ledger-dev/ledger/internal/lockfile"
)

// FileStore is the embedded Store: a directory holding one state file,
// DIR/state, with a pair of fixed-size slots per origin, and DIR/lock.
//
// A slot is a header (magic, sequence number, lengths, SHA-256 of all of
// it) followed by the origin and the value. Of an origin's two slots the
// valid one with the higher sequence number holds its state. An update
// writes the other slot in place and fdatasyncs the file before it
// returns; a crash in the middle leaves the current slot as it was (the
// slots share no page) and a torn new slot fails its checksum, so each
// update replaces the state atomically. Concurrent updates of different
// origins share one fdatasync (see groupSync).
//
// Why not a file per origin, replaced by renaming a fsynced temporary file
// and fsyncing the directory: each update then allocates and frees an inode
// and commits the ext4 journal, and each origin needs its own fsync; on the
// benchmark machine that did about 600 requests/s for one log and 1,100/s
// for 64, against 2,000/s and over 5,000/s with this layout
// (docs/benchmarks.md).
//
// An origin's first update appends its pair to the file. A crash before
// that write is durable leaves a pair with no valid slot, which is ignored:
// its update was never acknowledged. (So damage to both slots of a pair,
// which no crash causes, would make the store forget that origin.) Any I/O
// error stops the store (every later call fails): what is on disk is then
// unknown until a restart reads it again.
//
// One process at a time may use a directory: OpenFileStore takes an
// exclusive lock on DIR/lock, held until Close (or the process's death).
type FileStore struct {
	f     *os.File
	lock  *os.File
	group *groupSync

	mu      sync.Mutex
	origins map[string]*slotPair
	pairs   int64 // pairs allocated in the file
	err     error // sticky I/O error
}

// MaxStateSize bounds len(origin) + len(value) in a FileStore: room for a
// checkpoint as big as the largest request body, and cosignatures.
const MaxStateSize = slotSize - slotHeader

const (
	slotSize   = 32 << 10 // a multiple of the page size: slots share no page
	pairSize   = 2 * slotSize
	slotHeader = 8 + 8 + 4 + 4 + sha256.Size
	slotMagic  = "wstate02"
)

// slotPair is the state of one origin.
type slotPair struct {
	mu    sync.Mutex // held for a whole update
	index int64      // the pair's place in the file; -1 if not allocated
	seq   uint64     // sequence number of the current slot; 0 if none
	value []byte     // the current, durable value; nil if none
}

// FileStoreConfig configures a FileStore.
type FileStoreConfig struct {
	// Dir is the state directory, created if needed. Required.
	Dir string
}

// OpenFileStore opens the FileStore in cfg.Dir, creating it if needed.
func OpenFileStore(_ context.Context, cfg FileStoreConfig) (*FileStore, error) {
	if cfg.Dir == "" {
		return nil, errors.New("witness: FileStoreConfig.Dir is required")
	}
	dir := cfg.Dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create the state directory: %w", err)
	}
	lock, err := lockfile.TryLock(filepath.Join(dir, "lock"), 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory %s is in use by another witness: %w", dir, err)
	}
	s, err := openStateFile(filepath.Join(dir, "state"))
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// openStateFile opens (or creates, durably) the state file and loads every
// origin's current slot.
func openStateFile(path string) (*FileStore, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("couldn't open the state file: %w", err)
	}
	// The file may have just been created: make its directory entry durable.
	if err := durable.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	s := &FileStore{f: f, origins: map[string]*slotPair{}}
	s.group = newGroupSync(func() error { return unix.Fdatasync(int(f.Fd())) })
	if err := s.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("couldn't read the state file %s: %w", path, err)
	}
	return s, nil
}

// load reads every pair of the file.
func (s *FileStore) load() error {
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	// A torn append may have left a partial pair at the end.
	s.pairs = (fi.Size() + pairSize - 1) / pairSize
	buf := make([]byte, pairSize)
	for i := range s.pairs {
		clear(buf)
		if _, err := s.f.ReadAt(buf, i*pairSize); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		origin, seq, value, ok := parseSlot(buf[:slotSize])
		if o2, seq2, v2, ok2 := parseSlot(buf[slotSize:]); ok2 && (!ok || seq2 > seq) {
			if ok && o2 != origin {
				return fmt.Errorf("pair %d holds slots of two origins, %q and %q", i, origin, o2)
			}
			origin, seq, value, ok = o2, seq2, v2, true
		}
		if !ok {
			continue // allocated by an update that was never acknowledged
		}
		if _, dup := s.origins[origin]; dup {
			return fmt.Errorf("origin %q has two pairs", origin)
		}
		s.origins[origin] = &slotPair{index: i, seq: seq, value: value}
	}
	return nil
}

// Close closes the state file and releases the directory's lock.
func (s *FileStore) Close() error {
	err := s.f.Close()
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// pair returns origin's pair, creating an unallocated one if needed.
func (s *FileStore) pair(origin string) (*slotPair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	p, ok := s.origins[origin]
	if !ok {
		p = &slotPair{index: -1}
		s.origins[origin] = p
	}
	return p, nil
}

// fail makes err sticky and returns it.
func (s *FileStore) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = fmt.Errorf("witness state store stopped after an I/O error: %w", err)
	}
	return s.err
}

// Get returns the stored checkpoint of origin, or nil.
func (s *FileStore) Get(_ context.Context, origin string) ([]byte, error) {
	p, err := s.pair(origin)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.value == nil {
		return nil, nil
	}
	return append([]byte{}, p.value...), nil
}

// Update replaces the stored checkpoint of origin with f's result, durably.
func (s *FileStore) Update(ctx context.Context, origin string, f func(old []byte) ([]byte, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.pair(origin)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, err := f(p.value)
	if err != nil {
		return fmt.Errorf("update of %q refused: %w", origin, err)
	}
	if b == nil {
		b = []byte{} // nil means "no value"
	}
	if len(origin)+len(b) > MaxStateSize {
		return fmt.Errorf("state of %q would be %d bytes, over the limit of %d", origin, len(origin)+len(b), MaxStateSize)
	}
	seq := p.seq + 1
	index, err := s.write(p.index, seq, origin, b)
	if err == nil {
		err = s.group.Sync()
	}
	if err != nil {
		return s.fail(err)
	}
	// At this point the new value is durable.
	p.index, p.seq, p.value = index, seq, b
	return nil
}

// write puts the slot numbered seq of pair index (allocating a pair at the
// end of the file if index is -1) and returns the pair's index.
func (s *FileStore) write(index int64, seq uint64, origin string, value []byte) (int64, error) {
	slot := marshalSlot(seq, origin, value)
	off := int64(seq%2) * slotSize
	if index < 0 {
		s.mu.Lock()
		index = s.pairs
		s.pairs++
		s.mu.Unlock()
		// Write the pair whole: the other slot's zeros make later writes
		// overwrites of allocated blocks, which fdatasync flushes without
		// metadata.
		buf := make([]byte, pairSize)
		copy(buf[off:], slot)
		slot, off = buf, 0
	}
	_, err := s.f.WriteAt(slot, index*pairSize+off)
	return index, err
}

func marshalSlot(seq uint64, origin string, value []byte) []byte {
	buf := make([]byte, slotHeader+len(origin)+len(value))
	copy(buf, slotMagic)
	binary.BigEndian.PutUint64(buf[8:], seq)
	binary.BigEndian.PutUint32(buf[16:], uint32(len(origin)))
	binary.BigEndian.PutUint32(buf[20:], uint32(len(value)))
	copy(buf[slotHeader:], origin)
	copy(buf[slotHeader+len(origin):], value)
	sum := slotSum(buf)
	copy(buf[24:], sum[:])
	return buf
}

// parseSlot returns the contents of a valid slot.
func parseSlot(slot []byte) (origin string, seq uint64, value []byte, ok bool) {
	if string(slot[:8]) != slotMagic {
		return "", 0, nil, false
	}
	no, nv := binary.BigEndian.Uint32(slot[16:]), binary.BigEndian.Uint32(slot[20:])
	if uint64(no)+uint64(nv) > MaxStateSize {
		return "", 0, nil, false
	}
	end := slotHeader + int(no) + int(nv)
	if sum := slotSum(slot[:end]); string(sum[:]) != string(slot[24:slotHeader]) {
		return "", 0, nil, false
	}
	origin = string(slot[slotHeader : slotHeader+int(no)])
	return origin, binary.BigEndian.Uint64(slot[8:]), append([]byte{}, slot[slotHeader+int(no):end]...), true
}

// slotSum is the checksum of a marshalled slot: SHA-256 of everything but
// the checksum field.
func slotSum(slot []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(slot[:24])
	h.Write(slot[slotHeader:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}
