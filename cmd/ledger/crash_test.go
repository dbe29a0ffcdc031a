package main_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/longtest"
	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/s3test"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// acks collects what the ledger acknowledged, and fails the test if one
// index is acknowledged for two events.
type acks struct {
	t      *testing.T
	mu     sync.Mutex
	index  map[uint64]ack
	events map[uint64]map[string]any // the acknowledged events, as sent
}

func (a *acks) record(batch []map[string]any, got []ack) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, g := range got {
		if g.ID != batch[i]["id"] {
			a.t.Errorf("ack %d has id %q, want %q", i, g.ID, batch[i]["id"])
		}
		if prev, ok := a.index[g.Index]; ok && prev.ID != g.ID {
			a.t.Errorf("index %d acknowledged twice: %q and %q", g.Index, prev.ID, g.ID)
		}
		a.index[g.Index] = g
		if a.events == nil {
			a.events = map[uint64]map[string]any{}
		}
		a.events[g.Index] = batch[i]
	}
}

// checkDeduplicated sends every acknowledged event again, as it was sent
// (the ledger gives it a new timestamp, as it did the first time), and
// fails the test unless each is answered as a duplicate at its index: the
// key index kept every acknowledged id through the crashes.
func checkDeduplicated(t *testing.T, url string, a *acks) {
	t.Helper()
	indexes := slices.Sorted(maps.Keys(a.events))
	for start := 0; start < len(indexes); start += 500 {
		var batch []map[string]any
		for _, i := range indexes[start:min(start+500, len(indexes))] {
			batch = append(batch, a.events[i])
		}
		got, err := postEvents(http.DefaultClient, url, batch)
		if err != nil {
			t.Fatalf("resending acknowledged events: %v", err)
		}
		for j, g := range got {
			if want := indexes[start+j]; !g.Duplicate || g.Index != want {
				t.Fatalf("event %q resent after the crashes: index %d, duplicate %v; want a duplicate of index %d", g.ID, g.Index, g.Duplicate, want)
			}
		}
	}
}

// load runs clients that append random batches to the servers in turn until
// stop is closed; unacknowledged batches (the server may be dying) are
// dropped.
func load(cycle, clients int, urls []string, a *acks, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			rng := rand.New(rand.NewPCG(uint64(cycle), uint64(c)))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var batch []map[string]any
				for i := range 1 + rng.IntN(20) {
					batch = append(batch, testEvent(fmt.Sprintf("c%d-%d-%d-%d", cycle, c, n, i), n))
				}
				got, err := postEvents(client, urls[(c+n)%len(urls)], batch)
				if err == nil {
					a.record(batch, got)
				}
			}
		})
	}
	return &wg
}

// saveCheckpoint stores the server's published checkpoint in a file, for a
// later consistency check.
func saveCheckpoint(t *testing.T, url string, name string) (string, bool) {
	resp, err := http.Get(url + "checkpoint")
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	cp, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", false
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, cp, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, true
}

// checkAcked reads every acknowledged event back from the server and checks
// that it is at its index with the acknowledged leaf hash, and that no
// secret reached a leaf.
func checkAcked(t *testing.T, url string, a *acks) {
	client := &http.Client{Timeout: 10 * time.Second}
	for index, want := range a.index {
		resp, err := client.Get(fmt.Sprintf("%sv1/events/%d", url, index))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
			Leaf []byte `json:"leaf"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("event %d: %s %v", index, resp.Status, err)
		}
		leafHash := sha256.Sum256(append([]byte{0}, got.Leaf...))
		if got.Event.ID != want.ID || base64.StdEncoding.EncodeToString(leafHash[:]) != want.LeafHash {
			t.Fatalf("event %d is %q with leaf hash %x; %q with %s was acknowledged", index, got.Event.ID, leafHash, want.ID, want.LeafHash)
		}
		if strings.Contains(string(got.Leaf), "hunter2") {
			t.Fatalf("event %d: a secret reached the leaf: %s", index, got.Leaf)
		}
	}
}

// verify runs the verifier and fails the test unless it succeeds.
func verify(t *testing.T, verifierBin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(verifierBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("verifier %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestCrashRecovery kills the ledger with SIGKILL under concurrent load, over
// and over, and checks that every acknowledged event is at its index with
// identical bytes, that the whole log verifies with the verifier, that
// every checkpoint published before a crash is consistent with the final
// one, and that of the tile and bundle files the crashes left, the server
// serves only what the tree holds. 20 kills by default, 100 with
// LEDGER_LONG_TESTS=1.
func TestCrashRecovery(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	data := t.TempDir()
	args := []string{"--data", data, "--origin", "example.com/crash", "--publish-interval", "20ms"}
	cycles, clients := longtest.Count(20, 100), 6
	a := &acks{t: t, index: map[uint64]ack{}}
	var checkpoints []string
	var vkey string
	for cycle := range cycles {
		srv := startServer(t, ledgerBin, args...)
		vkey = srv.vkey
		stop := make(chan struct{})
		wg := load(cycle, clients, []string{srv.url}, a, stop)
		time.Sleep(time.Duration(150+rand.IntN(250)) * time.Millisecond)
		if cp, ok := saveCheckpoint(t, srv.url, fmt.Sprintf("checkpoint.%d", cycle)); ok {
			checkpoints = append(checkpoints, cp)
		}
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
		srv.cmd.Process.Kill() // SIGKILL, mid-load
		srv.cmd.Wait()
		close(stop)
		wg.Wait()
	}
	if len(a.index) < cycles*clients {
		t.Fatalf("only %d events were acknowledged over %d cycles", len(a.index), cycles)
	}
	srv := startServer(t, ledgerBin, args...)
	checkAcked(t, srv.url, a)
	checkDeduplicated(t, srv.url, a)
	logDir := filepath.Join(data, "log")
	// Every tile and bundle file the crashes left, committed or not, is
	// asked for: what is served must be what the audited tree holds.
	cp, ok := saveCheckpoint(t, srv.url, "final")
	if !ok {
		t.Fatal("no final checkpoint")
	}
	b, _ := os.ReadFile(cp)
	asked, refused := checkServedTiles(t, srv.url, logDir, checkpointSize(t, b))
	srv.cmd.Process.Signal(os.Interrupt)
	srv.cmd.Wait()
	out := verify(t, verifierBin, "audit", "--log", logDir, "--vkey", vkey)
	t.Logf("%d events acknowledged over %d SIGKILLs; %d tile paths asked for, %d refused as not in the tree; %s", len(a.index), cycles, asked, refused, out)
	for _, cp := range checkpoints {
		verify(t, verifierBin, "consistency", "--log", logDir, "--vkey", vkey, "--old", cp)
	}
}

// TestCrashRecoveryPostgres runs two ledger instances against one
// PostgreSQL database, both taking appends at once, and kills one or both
// with SIGKILL under load, over and over: no acknowledged event is lost or
// moved, the log verifies, and it never forks (every checkpoint either
// instance published is consistent with the final one).
func TestCrashRecoveryPostgres(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	dsn := pgtest.New(t)
	key := newKey(t, ledgerBin, "example.com/pg-crash")
	crashTwoInstances(t, ledgerBin, verifierBin, 12, func() []string {
		return []string{"--data", t.TempDir(), "--key", key, "--postgres", dsn, "--publish-interval", "20ms"}
	})
}

// TestCrashRecoveryBucket is TestCrashRecoveryPostgres with the tiles in a
// real S3 bucket (versitygw): two instances on one database and one
// bucket, killed with SIGKILL under load; then the log passes `verifier
// audit` read straight from the bucket's HTTP endpoint, and every
// checkpoint published before a kill is consistent with the bucket's.
// Kill cycles: 5, or 24 with LEDGER_LONG_TESTS=1.
func TestCrashRecoveryBucket(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	s3srv := s3test.Start(t)
	cfg := s3srv.Bucket(t, "crash", s3test.BucketOptions{PublicRead: true})
	dsn := pgtest.New(t)
	key := newKey(t, ledgerBin, "example.com/bucket-crash")
	res := crashTwoInstances(t, ledgerBin, verifierBin, longtest.Count(5, 24), func() []string {
		return []string{"--data", t.TempDir(), "--key", key, "--postgres", dsn, "--bucket", cfg.URL(), "--publish-interval", "20ms"}
	})
	bucketURL := s3srv.URL("crash")
	out := verify(t, verifierBin, "audit", "--log", bucketURL, "--vkey", res.vkey)
	t.Logf("read from the bucket: %s", out)
	for _, cp := range res.checkpoints {
		verify(t, verifierBin, "consistency", "--log", bucketURL, "--vkey", res.vkey, "--old", cp)
	}
}

// newKey creates a log key with `ledger keygen` and returns its path.
func newKey(t *testing.T, ledgerBin, origin string) string {
	key := filepath.Join(t.TempDir(), "log.key")
	if out, err := exec.Command(ledgerBin, "keygen", "--origin", origin, "--key", key).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	return key
}

// crashResult is what crashTwoInstances leaves for further checks.
type crashResult struct {
	vkey        string
	checkpoints []string // files of the checkpoints published before kills
}

// crashTwoInstances runs two instances started with argsFor() under load,
// kills the first, the second or both with SIGKILL in each of cycles
// cycles, then checks on a fresh instance that every acknowledged event is
// at its index and deduplicated, that the log audits, that no published
// checkpoint forked from the final one, and that the final checkpoint
// covers every acknowledged index.
func crashTwoInstances(t *testing.T, ledgerBin, verifierBin string, cycles int, argsFor func() []string) crashResult {
	const clients = 6
	a := &acks{t: t, index: map[uint64]ack{}}
	var res crashResult
	servers := make([]*server, 2)
	conflicts := 0.0 // flushes one instance lost to the other: proof that both wrote at once
	for cycle := range cycles {
		for i := range servers {
			if servers[i] == nil {
				servers[i] = startServer(t, ledgerBin, argsFor()...)
			}
			res.vkey = servers[i].vkey
		}
		stop := make(chan struct{})
		wg := load(cycle, clients, []string{servers[0].url, servers[1].url}, a, stop)
		time.Sleep(time.Duration(200+rand.IntN(300)) * time.Millisecond)
		for i, s := range servers {
			if cp, ok := saveCheckpoint(t, s.url, fmt.Sprintf("checkpoint.%d.%d", cycle, i)); ok {
				res.checkpoints = append(res.checkpoints, cp)
			}
		}
		// Kill the first, the second or both, mid-load.
		for i, s := range servers {
			if kill := cycle % 3; kill == i || kill == 2 {
				conflicts += metric(s.url, "ledger_sequencing_conflicts_total")
				s.cmd.Process.Kill()
				s.cmd.Wait()
				servers[i] = nil
			}
		}
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
		close(stop)
		wg.Wait()
	}
	if len(a.index) < cycles*clients {
		t.Fatalf("only %d events were acknowledged over %d cycles", len(a.index), cycles)
	}
	for _, s := range servers {
		if s != nil {
			conflicts += metric(s.url, "ledger_sequencing_conflicts_total")
		}
	}
	if conflicts == 0 {
		t.Fatal("the two instances never raced for a commit")
	}
	srv := startServer(t, ledgerBin, argsFor()...)
	checkAcked(t, srv.url, a)
	checkDeduplicated(t, srv.url, a)
	// Wait until the final checkpoint covers every acknowledged event.
	var maxIndex uint64
	for i := range a.index {
		maxIndex = max(maxIndex, i)
	}
	out := verify(t, verifierBin, "audit", "--log", srv.url, "--vkey", res.vkey)
	t.Logf("%d events acknowledged by two instances (%.0f commit races) over %d cycles of SIGKILLs; %s", len(a.index), conflicts, cycles, out)
	for _, cp := range res.checkpoints {
		verify(t, verifierBin, "consistency", "--log", srv.url, "--vkey", res.vkey, "--old", cp)
	}
	final, ok := saveCheckpoint(t, srv.url, "final")
	if !ok {
		t.Fatal("no final checkpoint")
	}
	b, _ := os.ReadFile(final)
	if size := checkpointSize(t, b); size <= maxIndex {
		t.Fatalf("final checkpoint has size %d, but index %d was acknowledged", size, maxIndex)
	}
	srv.cmd.Process.Signal(os.Interrupt)
	srv.cmd.Wait()
	return res
}

// checkpointSize returns the tree size line of a checkpoint note.
func checkpointSize(t *testing.T, note []byte) uint64 {
	lines := strings.SplitN(string(note), "\n", 3)
	var size uint64
	if len(lines) < 2 {
		t.Fatalf("not a checkpoint: %q", note)
	}
	if _, err := fmt.Sscan(lines[1], &size); err != nil {
		t.Fatalf("checkpoint size %q: %v", lines[1], err)
	}
	return size
}

// metric reads a counter or gauge from the server's /metrics, 0 if absent.
func metric(url, name string) float64 {
	resp, err := http.Get(url + "metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}
