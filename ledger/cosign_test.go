package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// TestWitnessPolicyChecked: ledger.New refuses a witness policy that its
// checkpoints could never meet, saying why.
func TestWitnessPolicyChecked(t *testing.T) {
	signer, vkey := storagetest.NewSigner(t, "example.com/checked")
	_, otherVkey := storagetest.NewSigner(t, "example.com/other")
	_, sameNameVkey := storagetest.NewSigner(t, "example.com/checked")
	_, wvkey, err := tiles.GenerateCosignatureKey(nil, "w.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ policy, want string }{
		{"witness w " + wvkey + " http://127.0.0.1:1\nquorum w\n", "has no log line, not for this log example.com/checked"},
		{"log " + otherVkey + "\nwitness w " + wvkey + " http://127.0.0.1:1\nquorum w\n", "log lines only for example.com/other"},
		{"log " + sameNameVkey + "\nquorum none\n", "log lines only for example.com/checked (key hash"},
		{"log " + vkey + "\nwitness w " + wvkey + "\nquorum w\n", `quorum "w" cannot be met`},
	} {
		policy, err := tiles.ParsePolicy([]byte(tc.policy))
		if err != nil {
			t.Fatalf("%q: %v", tc.policy, err)
		}
		_, err = ledger.New(t.Context(), ledger.Config{Storage: storagetest.NewMemory(), Keys: storagetest.NewMemoryKeys(), Signer: signer,
			KeyOf: storagetest.KeyBeforeBar, Witnesses: policy})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("policy %q: %v, want an error saying %q", tc.policy, err, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(msg string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), `"msg":"`+msg+`"`)
}

// TestWitnessDownWarnings: a witness that is down is warned about once when
// it starts failing and then once a minute (by Config.Clock), not once per
// publish interval; it coming back is logged; ledger_witness_up follows it.
func TestWitnessDownWarnings(t *testing.T) {
	signer, vkey := storagetest.NewSigner(t, "example.com/warned")
	store, err := witness.OpenFileStore(t.Context(), witness.FileStoreConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	w := startWitness(t, "w0.example.com", store, vkey)
	w.stop()
	policy, err := tiles.ParsePolicy([]byte("log " + vkey + "\nwitness w0 " + w.vkey + " " + w.url + "\nquorum w0\n"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		offset time.Duration
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	advance := func(d time.Duration) { mu.Lock(); offset += d; mu.Unlock() }
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	metrics := ledger.NewMetrics()
	if err := metrics.Register(reg); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(t.Context(), ledger.Config{Storage: storagetest.NewMemory(), Keys: storagetest.NewMemoryKeys(), Signer: signer,
		KeyOf: storagetest.KeyBeforeBar, PublishInterval: 10 * time.Millisecond, Witnesses: policy, WitnessTimeout: time.Second,
		Clock: clock, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	up := func() float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "ledger_witness_up" && len(mf.Metric) == 1 {
				return mf.Metric[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	if _, err := l.Append(t.Context(), batchOf(0, 3)); err != nil {
		t.Fatal(err)
	}
	failures := func() float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "ledger_witness_failures_total" && len(mf.Metric) == 1 {
				return mf.Metric[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, logs.b.String())
			}
		}
	}
	// Twenty rounds and more against the stopped witness: one warning.
	waitFor("20 failed rounds", func() bool { return failures() >= 20 })
	if n, m := logs.count("witness did not cosign; while it keeps failing this is logged once a minute"), logs.count("witness still does not cosign"); n != 1 || m != 0 {
		t.Errorf("after %v failed rounds: %d first warnings and %d repeats, want 1 and 0", failures(), n, m)
	}
	if up() != 0 {
		t.Errorf("ledger_witness_up = %v with the witness down, want 0", up())
	}
	// A minute later by the clock: one more.
	advance(61 * time.Second)
	before := failures()
	waitFor("rounds after a minute", func() bool { return failures() >= before+20 })
	if n := logs.count("witness still does not cosign"); n != 1 {
		t.Errorf("a minute later and 20 rounds on: %d repeated warnings, want 1", n)
	}
	// The witness comes back: logged once, and up is 1.
	w.start(t, w.url[len("http://"):])
	waitFor("the witness to cosign again", func() bool { return logs.count("witness cosigns again") == 1 })
	if up() != 1 {
		t.Errorf("ledger_witness_up = %v with the witness back, want 1", up())
	}
}
