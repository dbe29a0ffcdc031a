package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/ledger/witness"
	"github.com/ledger-dev/ledger/tiles"
)

// testWitness is a real witness behind real HTTP on a fixed 127.0.0.1 port,
// so it can be stopped and restarted at the same URL with the same state.
type testWitness struct {
	name, vkey, url string
	w               *witness.Witness
	srv             *http.Server
}

func startWitness(t *testing.T, name string, store witness.Store, logVKey string) *testWitness {
	skey, vkey, err := tiles.GenerateCosignatureKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := tiles.NewCosignatureSigner(skey, nil)
	lv, _ := note.NewVerifier(logVKey)
	w, err := witness.New(witness.Config{Signer: signer, Store: store, Logs: []witness.Log{{Origin: lv.Name(), Verifier: lv}}})
	if err != nil {
		t.Fatal(err)
	}
	tw := &testWitness{name: name, vkey: vkey, w: w}
	tw.start(t, "127.0.0.1:0")
	return tw
}

func (tw *testWitness) start(t *testing.T, addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tw.url = "http://" + ln.Addr().String()
	tw.srv = &http.Server{Handler: witness.Handler(tw.w)}
	go tw.srv.Serve(ln)
	t.Cleanup(func() { tw.srv.Close() })
}

func (tw *testWitness) stop() { tw.srv.Close() }

// TestWitnessQuorum runs a ledger with three witnesses under a 2-of-3
// policy: cosigned appends return once the quorum is met; with two witnesses
// down the quorum is lost; once they are back it returns on its own.
func TestWitnessQuorum(t *testing.T) {
	mem := storagetest.NewMemory()
	signer, vkey := storagetest.NewSigner(t, "example.com/witnessed")
	var ws []*testWitness
	policyText := "log " + vkey + "\n"
	for i := range 3 {
		store, err := witness.OpenFileStore(t.Context(), witness.FileStoreConfig{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		w := startWitness(t, fmt.Sprintf("w%d.example.com", i), store, vkey)
		ws = append(ws, w)
		policyText += fmt.Sprintf("witness w%d %s %s\n", i, w.vkey, w.url)
	}
	policyText += "group auditors 2 w0 w1 w2\nquorum auditors\n"
	policy, err := tiles.ParsePolicy([]byte(policyText))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(t.Context(), ledger.Config{Storage: mem, Keys: storagetest.NewMemoryKeys(), Signer: signer, KeyOf: storagetest.KeyBeforeBar,
		PublishInterval: 20 * time.Millisecond, Witnesses: policy, WitnessTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())

	appendCosigned := func(from int, timeout time.Duration) error {
		res, err := l.Append(t.Context(), batchOf(from, 10))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		return l.WaitCosigned(ctx, res[len(res)-1].Index+1)
	}
	checkPublished := func(wantMet bool) {
		cp, _ := mem.Fetch(t.Context(), tiles.CheckpointPath)
		sc, err := policy.Verify(cp)
		if wantMet && err != nil {
			t.Fatalf("published checkpoint: %v", err)
		}
		if !wantMet && !errors.Is(err, tiles.ErrQuorumNotMet) {
			t.Fatalf("published checkpoint with two witnesses down: %v, want ErrQuorumNotMet", err)
		}
		if sc == nil {
			t.Fatal("published checkpoint does not verify")
		}
	}

	if err := appendCosigned(0, 10*time.Second); err != nil {
		t.Fatalf("cosigned append with all witnesses up: %v", err)
	}
	checkPublished(true)

	ws[0].stop()
	if err := appendCosigned(10, 10*time.Second); err != nil {
		t.Fatalf("cosigned append with one witness down: %v", err)
	}
	checkPublished(true)

	ws[1].stop()
	if err := appendCosigned(20, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cosigned append with two witnesses down: %v, want a timeout", err)
	}
	if _, met := l.Quorum(); met {
		t.Fatal("Quorum() reports met with two of three witnesses down")
	}
	checkPublished(false)

	// Restart both at their old addresses; the quorum comes back by itself.
	for _, w := range ws[:2] {
		w.start(t, w.url[len("http://"):])
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := l.WaitCosigned(ctx, 30); err != nil {
		t.Fatalf("quorum did not return after the witnesses restarted: %v", err)
	}
	checkPublished(true)
}
