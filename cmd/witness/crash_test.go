package main_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/ledger/witness"
	"github.com/ledger-dev/ledger/ledger/witness/witnesstest"
	"github.com/ledger-dev/ledger/tiles"
)

// answer is a cosignature the witness returned.
type answer struct {
	size           uint64
	checkpoint     []byte
	sigs           []byte
	sent, received time.Time
}

// TestKillDuringRequests runs the real `witness serve` under concurrent
// add-checkpoint requests (honest ones from several clients, and validly
// signed forks), kills it with SIGKILL in the middle of them, restarts it
// on the same state, several times, and then checks that it never forgot
// an answered size, never cosigned a size smaller than one it had already
// answered, never cosigned a fork, and that every cosignature it returned
// is for a checkpoint consistent with its persisted state.
func TestKillDuringRequests(t *testing.T) {
	for _, store := range []string{"file", "postgres"} {
		t.Run(store, func(t *testing.T) {
			log := witnesstest.NewLog(t, "example.com/log")
			log.Grow(20000)
			s := newSetup(t, log)
			flags := []string{"--state", filepath.Join(s.dir, "state")}
			if store == "postgres" {
				flags = []string{"--postgres", pgtest.New(t)}
			}
			testKill(t, s, log, flags)
		})
	}
}

// crashRun is the shared state of the clients of one TestKillDuringRequests.
type crashRun struct {
	t        *testing.T
	log      *witnesstest.Log
	fork     *witnesstest.Log
	url      atomic.Pointer[string]
	gate     sync.RWMutex // held for reading by each request; Lock stops them
	inFlight atomic.Int64
	stop     atomic.Bool

	mu      sync.Mutex
	answers []answer
}

func testKill(t *testing.T, s *setup, log *witnesstest.Log, flags []string) {
	p := s.serve(t, append([]string{"--listen", "127.0.0.1:0"}, flags...)...)
	r := &crashRun{t: t, log: log, fork: log.Fork(0)}
	r.fork.Grow(int(log.Size()))
	r.url.Store(&p.url)
	// The honest log is cosigned first, so that the fork is a fork.
	if code, body := r.post(log.Request(t, 0, 1)); code != http.StatusOK {
		t.Fatalf("first checkpoint: %d %s", code, body)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(r.honest)
	}
	wg.Go(r.forger)
	killedInFlight := 0
	for cycle := range 3 {
		time.Sleep(time.Duration(150+rand.IntN(250)) * time.Millisecond)
		n := r.inFlight.Load()
		p.kill()
		if n > 0 {
			killedInFlight++
		}
		r.gate.Lock() // the requests to the dead process have returned
		maxAnswered := r.maxAnswered()
		p = s.serve(t, append([]string{"--listen", strings.TrimPrefix(p.url, "http://")}, flags...)...)
		persisted := r.persisted(p.url)
		t.Logf("cycle %d: killed with %d requests in flight; %d answers, largest size %d; restarted with size %d",
			cycle, n, len(r.answers), maxAnswered, persisted.Size)
		if persisted.Size < maxAnswered {
			t.Fatalf("after SIGKILL the witness has size %d, but it had cosigned size %d", persisted.Size, maxAnswered)
		}
		r.gate.Unlock()
	}
	r.stop.Store(true)
	wg.Wait()
	if killedInFlight == 0 {
		t.Fatal("no SIGKILL hit requests in flight")
	}
	r.check(s, p.url)
}

// post submits req to the current witness process.
func (r *crashRun) post(req *tiles.AddCheckpointRequest) (int, []byte) {
	resp, err := http.Post(*r.url.Load()+"/add-checkpoint", "text/plain", bytes.NewReader(req.Marshal()))
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	return resp.StatusCode, b
}

// do sends one request while holding the gate, and records a cosignature.
func (r *crashRun) do(req *tiles.AddCheckpointRequest, size uint64) (int, []byte) {
	r.gate.RLock()
	defer r.gate.RUnlock()
	r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	sent := time.Now()
	code, body := r.post(req)
	if code == http.StatusOK {
		r.mu.Lock()
		r.answers = append(r.answers, answer{size: size, checkpoint: req.Checkpoint, sigs: body, sent: sent, received: time.Now()})
		r.mu.Unlock()
	}
	return code, body
}

// honest submits ever larger checkpoints of the log, learning the
// witness's size from 409s like a real client; it also resubmits old sizes
// now and then.
func (r *crashRun) honest() {
	var old uint64
	for !r.stop.Load() {
		size := min(old+uint64(rand.IntN(4)), r.log.Size())
		req := r.log.Request(r.t, old, size)
		if rand.IntN(10) == 0 && old > 1 {
			size = old - 1 // a rollback attempt: never cosigned
			req = &tiles.AddCheckpointRequest{OldSize: old, Checkpoint: r.log.Checkpoint(r.t, size)}
		}
		code, body := r.do(req, size)
		switch code {
		case http.StatusOK:
			old = size
		case http.StatusConflict:
			if n, err := strconv.ParseUint(strings.TrimSpace(string(body)), 10, 64); err == nil {
				old = n
			}
		case 0: // the witness is down
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// forger submits checkpoints of a fork, signed with the log's key.
func (r *crashRun) forger() {
	var old uint64
	for !r.stop.Load() {
		size := min(old+uint64(rand.IntN(3)), r.fork.Size())
		code, body := r.do(r.fork.Request(r.t, old, size), 0)
		switch code {
		case http.StatusOK:
			r.t.Errorf("the witness cosigned a fork at size %d (old %d)", size, old)
			return
		case http.StatusConflict:
			if n, err := strconv.ParseUint(strings.TrimSpace(string(body)), 10, 64); err == nil {
				old = n
			}
		case 0:
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (r *crashRun) maxAnswered() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m uint64
	for _, a := range r.answers {
		m = max(m, a.size)
	}
	return m
}

// persisted returns the checkpoint the witness serves for monitoring,
// which is its persisted state.
func (r *crashRun) persisted(url string) *tiles.Checkpoint {
	r.t.Helper()
	resp, err := http.Get(url + "/" + witness.OriginHash(r.log.Origin()) + "/checkpoint")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sc, _, err := tiles.OpenCheckpoint(b, r.log.Verifier())
	if resp.StatusCode != http.StatusOK || err != nil {
		r.t.Fatalf("monitoring checkpoint: %s %v\n%s", resp.Status, err, b)
	}
	return &sc.Checkpoint
}

// check verifies every answer against the persisted state and against the
// answers received before it was asked.
func (r *crashRun) check(s *setup, url string) {
	t := r.t
	final := r.persisted(url)
	if final.Hash != r.log.Root(final.Size) {
		t.Fatalf("persisted checkpoint of size %d is not the log's", final.Size)
	}
	if len(r.answers) < 50 {
		t.Fatalf("only %d cosignatures in the whole run", len(r.answers))
	}
	for _, a := range r.answers {
		n, err := note.Open(append(bytes.Clone(a.checkpoint), a.sigs...), note.VerifierList(r.log.Verifier(), s.verifier))
		if err != nil || len(n.Sigs) != 2 {
			t.Fatalf("cosignature for size %d does not verify: %v", a.size, err)
		}
		// Consistent with the persisted state: a prefix of the same tree.
		proof := r.log.Proof(t, a.size, final.Size)
		if a.size > final.Size || tiles.VerifyConsistency(a.size, r.log.Root(a.size), final.Size, final.Hash, proof) != nil {
			t.Fatalf("cosigned size %d is not consistent with the persisted size %d", a.size, final.Size)
		}
	}
	// Never a smaller size than one answered before the request was sent.
	byReceived := append([]answer(nil), r.answers...)
	sort.Slice(byReceived, func(i, j int) bool { return byReceived[i].received.Before(byReceived[j].received) })
	for _, b := range r.answers {
		for _, a := range byReceived {
			if !a.received.Before(b.sent) {
				break
			}
			if b.size < a.size {
				t.Fatalf("cosigned size %d after having answered size %d", b.size, a.size)
			}
		}
	}
	// The restarted witness refuses to go back.
	if final.Size > 1 {
		code, body := r.post(&tiles.AddCheckpointRequest{OldSize: final.Size, Checkpoint: r.log.Checkpoint(t, final.Size-1)})
		if code != http.StatusBadRequest {
			t.Fatalf("rollback after restart: %d %s", code, body)
		}
		code, body = r.post(r.log.Request(t, final.Size-1, final.Size))
		if code != http.StatusConflict || string(body) != fmt.Sprintf("%d\n", final.Size) {
			t.Fatalf("stale old size after restart: %d %q", code, body)
		}
	}
}
