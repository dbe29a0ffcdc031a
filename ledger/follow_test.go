package ledger_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
)

// TestFollowPublished checks that an instance that appends nothing, and a
// read-only one, serve the checkpoint another instance sharing the storage
// published: within the publish interval on their own, and at once when a
// read asks for a size beyond what they know.
func TestFollowPublished(t *testing.T) {
	s := storagetest.NewKeyedMemory()
	signer, _ := storagetest.NewSigner(t, "example.com/follow")
	const interval = 20 * time.Millisecond
	newLedger := func(readOnly bool) *ledger.Ledger {
		l, err := ledger.New(t.Context(), ledger.Config{Storage: s, Signer: signer, KeyOf: storagetest.KeyBeforeBar,
			PublishInterval: interval, ReadOnly: readOnly})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close(t.Context()) })
		return l
	}
	writer, idle, reader := newLedger(false), newLedger(false), newLedger(true)
	for round := range 3 {
		res, err := writer.Append(t.Context(), batchOf(round*100, 100))
		if err != nil {
			t.Fatal(err)
		}
		size := res[len(res)-1].Index + 1
		if err := writer.WaitPublished(t.Context(), size); err != nil {
			t.Fatal(err)
		}
		// A read beyond what the instance knows looks the newest up.
		if round == 1 {
			if _, got := reader.PublishedCovering(t.Context(), size); got != size {
				t.Fatalf("read-only instance: PublishedCovering(%d) = size %d", size, got)
			}
		}
		for name, l := range map[string]*ledger.Ledger{"idle": idle, "read-only": reader} {
			deadline := time.Now().Add(3 * interval)
			for {
				note, got := l.Published()
				if got == size {
					wantNote, _ := writer.Published()
					if string(note) != string(wantNote) {
						t.Fatalf("%s instance serves another note at size %d", name, size)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("round %d: %s instance serves size %d, %v after size %d was published", round, name, got, 3*interval, size)
				}
				time.Sleep(interval / 4)
			}
		}
	}
	if reader.Committed().Size != 300 {
		t.Fatalf("read-only instance's committed size %d, want 300", reader.Committed().Size)
	}
	if _, err := reader.Append(t.Context(), batchOf(1000, 1)); !errors.Is(err, ledger.ErrReadOnly) {
		t.Fatalf("append to a read-only instance: %v, want ErrReadOnly", err)
	}
	// The idle instance appends after the others: it follows their commits
	// and never publishes a smaller checkpoint than it serves.
	res, err := idle.Append(t.Context(), batchOf(5000, 1))
	if err != nil || res[0].Index != 300 {
		t.Fatalf("append to the idle instance: %+v, %v", res, err)
	}
	if err := idle.WaitPublished(t.Context(), 301); err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlyNeedsSharedStorage checks that a read-only ledger over a
// storage nobody else writes is refused.
func TestReadOnlyNeedsSharedStorage(t *testing.T) {
	signer, _ := storagetest.NewSigner(t, "example.com/ro")
	_, err := ledger.New(t.Context(), ledger.Config{Storage: storagetest.NewMemory(), Keys: storagetest.NewMemoryKeys(),
		Signer: signer, KeyOf: storagetest.KeyBeforeBar, ReadOnly: true})
	if err == nil {
		t.Fatal("a read-only ledger over unshared storage was opened")
	}
}
