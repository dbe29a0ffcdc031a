package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"

	"github.com/ledger-dev/ledger/ledger/witness"
	"github.com/ledger-dev/ledger/tiles"
)

// TestTesseraWitnessedByUs runs a log with transparency-dev/tessera's POSIX
// driver whose witness policy names our `witness serve` process: tessera's
// own tlog-witness client sends its checkpoints and consistency proofs, and
// publishes a checkpoint only once our witness has cosigned it. Each
// published checkpoint must carry a cosignature that verifies with our
// witness's vkey, and the witness's monitoring endpoint must serve it.
func TestTesseraWitnessedByUs(t *testing.T) {
	// tessera logs with klog; keep the test output readable.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	skey, vkey, err := note.GenerateKey(rand.Reader, "example.com/tessera")
	if err != nil {
		t.Fatal(err)
	}
	logSigner, _ := note.NewSigner(skey)
	logVerifier, _ := note.NewVerifier(vkey)
	s := newSetupVKeys(t, vkey)
	p := s.serve(t, "--listen", "127.0.0.1:0", "--state", filepath.Join(s.dir, "state"))

	group, err := tessera.NewWitnessGroupFromPolicy([]byte(fmt.Sprintf("witness w1 %s %s\nquorum w1\n", s.vkey, p.url)))
	if err != nil {
		t.Fatal(err)
	}
	driver, err := posix.New(ctx, posix.Config{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(logSigner).
		WithCheckpointInterval(100*time.Millisecond).
		WithBatching(1024, 20*time.Millisecond).
		WithWitnesses(group, &tessera.WitnessOptions{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(ctx)

	var size uint64
	// Sizes chosen so that the consistency proofs have several lines and
	// cross tile boundaries.
	for _, target := range []uint64{1, 300, 1000, 1337, 70000} {
		var futures []tessera.IndexFuture
		for ; size < target; size++ {
			futures = append(futures, appender.Add(ctx, tessera.NewEntry(fmt.Appendf(nil, "entry %d", size))))
		}
		for _, f := range futures {
			if _, err := f(); err != nil {
				t.Fatal(err)
			}
		}
		cp := waitTesseraCheckpoint(t, reader, logVerifier, target)
		n, err := note.Open(cp, note.VerifierList(logVerifier, s.verifier))
		if err != nil || len(n.Sigs) != 2 {
			t.Fatalf("tessera's checkpoint of size %d does not carry our cosignature (%v):\n%s", target, err, cp)
		}
		for _, sig := range n.Sigs {
			if ts, err := tiles.CosignatureTime(sig); sig.Name == s.verifier.Name() && (err != nil || time.Since(ts) > time.Minute) {
				t.Fatalf("cosignature time %v, %v", ts, err)
			}
		}
		// The witness serves what tessera published: the same checkpoint,
		// signed by the log and by the witness.
		if mon := monitored(t, p.url, "example.com/tessera"); !bytes.Equal(mon, cp) {
			t.Fatalf("monitoring endpoint after size %d:\n%s\nwant\n%s", target, mon, cp)
		}
	}
}

// waitTesseraCheckpoint waits until tessera publishes the checkpoint of
// size and returns it.
func waitTesseraCheckpoint(t *testing.T, reader tessera.LogReader, v note.Verifier, size uint64) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		raw, err := reader.ReadCheckpoint(context.Background())
		if err == nil {
			sc, _, err := tiles.OpenCheckpoint(raw, v)
			if err != nil {
				t.Fatalf("tessera's checkpoint: %v", err)
			}
			if sc.Size == size {
				return raw
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("tessera published no checkpoint of size %d in 30s (last read: %v)", size, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// monitored returns what the witness at url serves for origin on its
// monitoring endpoint.
func monitored(t *testing.T, url, origin string) []byte {
	t.Helper()
	resp, err := http.Get(url + "/" + witness.OriginHash(origin) + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("monitoring %s: %s %s", origin, resp.Status, b)
	}
	return b
}
