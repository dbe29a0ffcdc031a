// Package storagetest holds what every storage driver is tested with: the
// contract suite (Run) and Memory, an in-memory driver that injects faults,
// with MemoryKeys, an in-memory key store that injects faults too, and
// KeyedMemory, a Memory that keeps the key index itself.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/tiles"
)

// Fault selects where Memory's next Commit fails.
type Fault int

// The faults Memory can inject into a Commit.
const (
	// NoFault commits normally.
	NoFault Fault = iota
	// FailBeforePersist fails before anything is written.
	FailBeforePersist
	// FailAfterTiles writes the tiles, then fails before the commit point, as
	// a process dying between the two steps would leave it.
	FailAfterTiles
	// PersistThenFail commits fully but reports failure.
	PersistThenFail
)

// ErrInjected is the error injected faults return.
var ErrInjected = errors.New("injected storage fault")

// Memory is an in-memory ledger.Storage with fault injection. The zero value
// is an empty log.
type Memory struct {
	mu        sync.Mutex
	state     ledger.State
	files     map[string][]byte
	published []byte
	next      Fault
	gate      chan struct{} // while non-nil, Commit waits for it to close
	keys      *MemoryKeys   // set for a KeyedMemory: Commit stores Flush.Keys in it
	bundles   int           // entry bundles read with ReadTile
}

// Hold makes every Commit wait until the returned release is called, so
// tests can fill the pool deterministically.
func (m *Memory) Hold() (release func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	gate := make(chan struct{})
	m.gate = gate
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		close(gate)
		m.gate = nil
	}
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{files: map[string][]byte{}} }

// FailNext makes the next Commit fail as f says.
func (m *Memory) FailNext(f Fault) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next = f
}

// State returns the committed state.
func (m *Memory) State(context.Context) (ledger.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, nil
}

// Commit stores the flush, subject to the injected fault.
func (m *Memory) Commit(_ context.Context, f *ledger.Flush) error {
	m.mu.Lock()
	if gate := m.gate; gate != nil {
		m.mu.Unlock()
		<-gate
		m.mu.Lock()
	}
	defer m.mu.Unlock()
	fault := m.next
	m.next = NoFault
	if m.state.Size != f.Old.Size || m.state.Root != f.Old.Root {
		return ledger.ErrConflict
	}
	if fault == FailBeforePersist {
		return ErrInjected
	}
	if m.files == nil {
		m.files = map[string][]byte{}
	}
	for t, b := range f.Tiles {
		m.files[t.Path()] = append([]byte(nil), b...)
	}
	if fault == FailAfterTiles {
		return ErrInjected
	}
	if m.keys != nil {
		if err := m.keys.commit(f); err != nil {
			return err
		}
	}
	m.state = f.New
	if fault == PersistThenFail {
		return ErrInjected
	}
	return nil
}

// ReadTile returns a stored tile or bundle.
func (m *Memory) ReadTile(_ context.Context, t tiles.Tile) ([]byte, error) {
	if t.Entries {
		m.mu.Lock()
		m.bundles++
		m.mu.Unlock()
	}
	return m.Fetch(context.Background(), t.Path())
}

// BundleReads returns how many entry bundles ReadTile has been asked for.
func (m *Memory) BundleReads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bundles
}

// Publish replaces the published checkpoint.
func (m *Memory) Publish(_ context.Context, cp []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.published = append([]byte(nil), cp...)
	return nil
}

// Fetch implements tiles.Fetcher over the stored files and the published
// checkpoint, so the verifying client can audit what Memory holds.
func (m *Memory) Fetch(_ context.Context, path string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if path == tiles.CheckpointPath {
		if m.published == nil {
			return nil, fmt.Errorf("%s: %w", path, tiles.ErrNotFound)
		}
		return append([]byte(nil), m.published...), nil
	}
	b, ok := m.files[path]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, tiles.ErrNotFound)
	}
	return append([]byte(nil), b...), nil
}
