package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/s3test"
)

// TestReplicasNeverStale runs two appending instances and one
// --read-only instance on shared storage (PostgreSQL alone, and
// PostgreSQL with the tiles in a versitygw bucket). Events go to the
// appending instances in turn, most rounds to one of them only, so the
// other stays idle; after each round a client runs `verifier checkpoint
// --state` against all three in turn and must never see a rollback, and
// every instance must serve a checkpoint covering every acknowledged index
// within two publish intervals (the writer's, then the follower's), and
// prove the index. The read-only instance answers queries too, and an
// instance told the tiles are elsewhere than they are does not start.
func TestReplicasNeverStale(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	for _, withBucket := range []bool{false, true} {
		name := "postgres"
		if withBucket {
			name = "bucket"
		}
		t.Run(name, func(t *testing.T) {
			dsn := pgtest.New(t)
			key := newKey(t, ledgerBin, "example.com/replicas-"+name)
			common := []string{"--key", key, "--postgres", dsn, "--publish-interval", "100ms"}
			if withBucket {
				srv := s3test.Start(t)
				cfg := srv.Bucket(t, "replicas", s3test.BucketOptions{})
				common = append(common, "--bucket", cfg.URL())
			}
			args := func(extra ...string) []string {
				return append(append([]string{"--data", t.TempDir()}, common...), extra...)
			}
			a, b := startServer(t, ledgerBin, args()...), startServer(t, ledgerBin, args()...)
			ro := startServer(t, ledgerBin, args("--read-only")...)
			instances := []*server{a, b, ro}
			if got, err := postEvents(http.DefaultClient, ro.url, []map[string]any{testEvent("to-read-only", 0)}); err == nil {
				t.Fatalf("the read-only instance acknowledged an append: %+v", got)
			}
			state := t.TempDir()
			checks := 0
			for round := range 8 {
				target := a
				if round%4 == 3 {
					target = b
				}
				var batch []map[string]any
				for i := range 5 {
					batch = append(batch, testEvent(fmt.Sprintf("r%d-%d", round, i), round*5+i))
				}
				acked, err := postEvents(http.DefaultClient, target.url, batch)
				if err != nil {
					t.Fatal(err)
				}
				last := acked[len(acked)-1].Index
				// GET /checkpoint looks nothing up: within two publish
				// intervals (the writer's and the follower's) each
				// instance must serve it on its own.
				for _, s := range instances {
					waitCheckpoint(t, s.url, last+1, 400*time.Millisecond)
				}
				for _, s := range instances {
					waitProvable(t, s.url, last, 0)
				}
				for _, s := range instances {
					out, err := exec.Command(verifierBin, "checkpoint", "--log", s.url, "--vkey", a.vkey, "--state", state).CombinedOutput()
					if err != nil {
						t.Fatalf("round %d: verifier checkpoint --state against %s: %v\n%s", round, s.url, err, out)
					}
					checks++
				}
			}
			var h struct {
				Size          uint64 `json:"size"`
				PublishedSize uint64 `json:"published_size"`
			}
			getJSON(t, ro.url+"healthz", &h)
			if h.PublishedSize < 40 || h.Size < h.PublishedSize {
				t.Fatalf("read-only instance's health: %+v, want 40 entries published", h)
			}
			// The read-only instance answers queries from the shared index,
			// which the appending instances fill.
			deadline := time.Now().Add(5 * time.Second)
			for {
				var q struct {
					Events []json.RawMessage `json:"events"`
				}
				getJSON(t, ro.url+"v1/events?limit=100", &q)
				if len(q.Events) == 40 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("a query on the read-only instance finds %d events, want 40", len(q.Events))
				}
				time.Sleep(50 * time.Millisecond)
			}
			// An instance told the tiles are elsewhere than they are is
			// refused at start.
			wrong := []string{"serve", "--init", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--key", key, "--postgres", dsn}
			want := "give its --bucket"
			if !withBucket {
				wrong, want = append(wrong, "--bucket", t.TempDir()), "drop --bucket"
			}
			if out, code := runCmd(t, ledgerBin, wrong...); code != 2 || !strings.Contains(out, want) {
				t.Errorf("serve with the tiles elsewhere: exit %d, want 2 and %q:\n%s", code, want, out)
			}
			t.Logf("%d checkpoint checks over 3 instances, no rollback; read-only health %+v", checks, h)
		})
	}
}

// waitProvable waits until GET /v1/proof/index answers 200, for at most
// limit, and fails the test otherwise.
func waitProvable(t *testing.T, url string, index uint64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(fmt.Sprintf("%sv1/proof/%d", url, index))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.HasPrefix(string(b), "c2sp.org/tlog-proof@v1") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("index %d not provable on %s within %s: %s %s", index, url, limit, resp.Status, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitCheckpoint waits until the checkpoint url serves has at least size
// entries, for at most limit, and fails the test otherwise.
func waitCheckpoint(t *testing.T, url string, size uint64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url + "checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && checkpointSize(t, b) >= size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s serves checkpoint %q %s after size %d was acknowledged", url, b, limit, size)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
