package witness_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/ledger/witness/witnesstest"
	"github.com/ledger-dev/ledger/tiles"
)

// TestForkRefused submits checkpoints that are validly signed by the log's
// key but inconsistent with the one the witness cosigned, and checks that
// none is cosigned, the witness's state does not move, and each refusal is
// logged at warn level with both checkpoints: the evidence of the fork.
func TestForkRefused(t *testing.T) {
	log := witnesstest.NewLog(t, "example.com/log")
	tw := newTestWitness(t, log)
	log.Grow(10)
	code, _, body := tw.post(t, log.Request(t, 0, 10).Marshal())
	if code != http.StatusOK {
		t.Fatalf("first checkpoint: %d %s", code, body)
	}
	// fork shares the first 5 leaves and then diverges: its checkpoints
	// from size 6 on are signed by the same key and inconsistent with log's.
	fork := log.Fork(5)
	fork.Grow(25)

	cosigned := func() string {
		code, b := tw.monitored(t, log.Origin())
		if code != http.StatusOK {
			t.Fatalf("monitoring: %d %s", code, b)
		}
		return string(b)
	}
	cases := []struct {
		name   string
		req    *tiles.AddCheckpointRequest
		status int
	}{
		{"same size, other root", fork.Request(t, 10, 10), http.StatusConflict},
		{"larger, proof from the fork's own past", fork.Request(t, 10, 30), http.StatusUnprocessableEntity},
		{"larger, the honest log's proof", &tiles.AddCheckpointRequest{OldSize: 10, Proof: growAndProve(t, log, 30), Checkpoint: fork.Checkpoint(t, 30)}, http.StatusUnprocessableEntity},
		{"rollback to a smaller honest size", log.Request(t, 10, 5), http.StatusBadRequest},
		{"rollback with the old size of the fork", fork.Request(t, 5, 8), http.StatusConflict},
	}
	for _, tc := range cases {
		before := cosigned()
		code, _, body := tw.post(t, tc.req.Marshal())
		if code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.status)
		}
		if after := cosigned(); after != before {
			t.Errorf("%s: the cosigned checkpoint changed from\n%s\nto\n%s", tc.name, before, after)
		}
		if !strings.Contains(before, "\n10\n") {
			t.Fatalf("%s: cosigned checkpoint is not the honest size 10:\n%s", tc.name, before)
		}
		recs := tw.records(t, "refused checkpoint")
		if len(recs) == 0 {
			t.Fatalf("%s: refusal not logged", tc.name)
		}
		rec := recs[len(recs)-1]
		if rec["checkpoint"] != string(tc.req.Checkpoint) || rec["cosigned"] != before || rec["origin"] != log.Origin() {
			t.Errorf("%s: refusal logged without both checkpoints: %v", tc.name, rec)
		}
		wantLevel := "WARN"
		if tc.name == "rollback with the old size of the fork" {
			// A stale old size is routine (clients learn the size from the
			// 409); the checkpoint is logged, at info level.
			wantLevel = "INFO"
		}
		if rec["level"] != wantLevel || rec["err"] == "" {
			t.Errorf("%s: logged at %v with err %q, want %s", tc.name, rec["level"], rec["err"], wantLevel)
		}
	}
	// The honest log goes on being cosigned.
	code, _, body = tw.post(t, log.Request(t, 10, 30).Marshal())
	if code != http.StatusOK {
		t.Fatalf("honest checkpoint after the fork attempts: %d %s", code, body)
	}
	tw.openCosigned(t, log, log.Checkpoint(t, 30), body)
	if got := cosigned(); !strings.HasPrefix(got, log.Origin()+"\n30\n") {
		t.Fatalf("cosigned checkpoint after the honest update:\n%s", got)
	}
}

// growAndProve grows log to size and returns its proof from 10.
func growAndProve(t *testing.T, log *witnesstest.Log, size uint64) []tiles.Hash {
	log.Grow(int(size - log.Size()))
	return log.Proof(t, 10, size)
}
