package posix

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/ledger-dev/ledger/tiles"
)

// The history of published checkpoints (ledger.CheckpointHistory) is two
// append-only files beside the commit state:
//
//	DIR/.checkpoints       every published checkpoint note, one after another
//	DIR/.checkpoints.idx   one record per note: its tree size, offset and
//	                       length in .checkpoints, big-endian (8+8+4 bytes)
//
// Sizes never decrease from one record to the next, so a lookup is a binary
// search over the index. A note is appended and synced before its record:
// after a crash the index ends in whole records that point at whole notes
// (a torn record, or a note without one, is ignored and overwritten).
const (
	historyFile = ".checkpoints"
	historyIdx  = ".checkpoints.idx"
	recordSize  = 20
)

// history is the open history files.
type history struct {
	data, idx *os.File
	dataEnd   int64  // where the next note goes
	records   int64  // whole records in idx
	last      []byte // the last note recorded, to skip a republish of it
}

func openHistory(dir string) (*history, error) {
	h := &history{}
	var err error
	if h.data, err = os.OpenFile(filepath.Join(dir, historyFile), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return nil, err
	}
	if h.idx, err = os.OpenFile(filepath.Join(dir, historyIdx), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		h.data.Close()
		return nil, err
	}
	fi, err := h.idx.Stat()
	if err != nil {
		h.close()
		return nil, err
	}
	h.records = fi.Size() / recordSize
	if h.records > 0 {
		_, off, n, err := h.record(h.records - 1)
		if err == nil {
			h.last, err = h.note(off, n)
		}
		if err != nil {
			h.close()
			return nil, fmt.Errorf("checkpoint history %s: %w", filepath.Join(dir, historyIdx), err)
		}
		h.dataEnd = off + int64(n)
	}
	return h, nil
}

func (h *history) close() {
	h.data.Close()
	h.idx.Close()
}

// record reads record i.
func (h *history) record(i int64) (size uint64, off int64, n uint32, err error) {
	var b [recordSize]byte
	if _, err := h.idx.ReadAt(b[:], i*recordSize); err != nil {
		return 0, 0, 0, err
	}
	return binary.BigEndian.Uint64(b[:8]), int64(binary.BigEndian.Uint64(b[8:16])), binary.BigEndian.Uint32(b[16:]), nil
}

// note reads the note of n bytes at off.
func (h *history) note(off int64, n uint32) ([]byte, error) {
	b := make([]byte, n)
	if _, err := h.data.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("a record points past the end of the notes")
		}
		return nil, err
	}
	return b, nil
}

// add records note, of tree size size, unless it is the last one recorded.
func (h *history) add(size uint64, note []byte) error {
	if bytes.Equal(note, h.last) {
		return nil
	}
	if _, err := h.data.WriteAt(note, h.dataEnd); err != nil {
		return fmt.Errorf("couldn't record the checkpoint of size %d: %w", size, err)
	}
	if err := h.data.Sync(); err != nil {
		return fmt.Errorf("couldn't record the checkpoint of size %d: %w", size, err)
	}
	var b [recordSize]byte
	binary.BigEndian.PutUint64(b[:8], size)
	binary.BigEndian.PutUint64(b[8:16], uint64(h.dataEnd))
	binary.BigEndian.PutUint32(b[16:], uint32(len(note)))
	if _, err := h.idx.WriteAt(b[:], h.records*recordSize); err != nil {
		return fmt.Errorf("couldn't record the checkpoint of size %d: %w", size, err)
	}
	if err := h.idx.Sync(); err != nil {
		return fmt.Errorf("couldn't record the checkpoint of size %d: %w", size, err)
	}
	h.records++
	h.dataEnd += int64(len(note))
	h.last = bytes.Clone(note)
	return nil
}

// firstCovering returns the last note recorded at the smallest size above
// index.
func (h *history) firstCovering(index uint64) ([]byte, error) {
	var ioErr error
	sizeAt := func(i int64) uint64 {
		size, _, _, err := h.record(i)
		if err != nil && ioErr == nil {
			ioErr = err
		}
		return size
	}
	first := int64(sort.Search(int(h.records), func(i int) bool { return sizeAt(int64(i)) > index }))
	if ioErr != nil {
		return nil, fmt.Errorf("couldn't read the checkpoint history: %w", ioErr)
	}
	if first == h.records {
		return nil, fmt.Errorf("no published checkpoint covers entry %d yet: %w", index, tiles.ErrNotFound)
	}
	size := sizeAt(first)
	last := first
	for last+1 < h.records && sizeAt(last+1) == size {
		last++
	}
	_, off, n, err := h.record(last)
	if err != nil || ioErr != nil {
		return nil, fmt.Errorf("couldn't read the checkpoint history: %w", errors.Join(err, ioErr))
	}
	return h.note(off, n)
}
