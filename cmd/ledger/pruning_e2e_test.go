package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ledger-dev/ledger/internal/longtest"
	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/s3test"
	"github.com/ledger-dev/ledger/tiles"
)

// pruneLog is a ledger served with a one-second min for every event, and
// the tokens to use it.
type pruneLog struct {
	ledgerBin, verifierBin string
	data, conf             string
	admin, writer, auditor string
	extra                  []string
}

func newPruneLog(t *testing.T, config string, extra ...string) *pruneLog {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	dir := t.TempDir()
	p := &pruneLog{ledgerBin: ledgerBin, verifierBin: verifierBin, data: filepath.Join(dir, "data"), conf: filepath.Join(dir, "ledger.yaml"), extra: extra}
	p.admin = newToken(t, ledgerBin, p.data, "--role", "admin")
	p.writer = newToken(t, ledgerBin, p.data, "--role", "writer")
	p.auditor = newToken(t, ledgerBin, p.data, "--role", "auditor")
	if err := os.WriteFile(p.conf, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pruneLog) serve(t *testing.T, extra ...string) *server {
	args := append([]string{"serve", "--data", p.data, "--config", p.conf, "--listen", "127.0.0.1:0", "--publish-interval", "20ms"}, p.extra...)
	return startLedger(t, http.DefaultClient, p.ledgerBin, append(args, extra...)...)
}

// appendActors appends one event per actor, in order, and waits until
// they are published.
func (p *pruneLog) appendActors(t *testing.T, s *server, actors ...string) {
	t.Helper()
	events := make([]string, len(actors))
	for i, a := range actors {
		events[i] = fmt.Sprintf(`{"event_type":"doc.read","action":"read","actor":{"id":%q,"type":"user"},"resource":{"type":"doc","id":"d-%d"},"result":"success"}`, a, i)
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", p.writer, "["+strings.Join(events, ",")+"]"); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
}

// prune runs `ledger prune --url` and returns its output.
func (p *pruneLog) prune(t *testing.T, s *server, args ...string) string {
	t.Helper()
	out, err := exec.Command(p.ledgerBin, append([]string{"prune", "--url", s.url, "--token", p.admin}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ledger prune: %v\n%s", err, out)
	}
	return string(out)
}

// minimumIndex reads GET /pruned.json.
func minimumIndex(t *testing.T, s *server) uint64 {
	t.Helper()
	code, b := call(t, http.DefaultClient, "GET", s.url+"pruned.json", "", "")
	p, err := tiles.ParsePruned(b)
	if code != 200 || err != nil {
		t.Fatalf("GET /pruned.json: %d %s %v", code, b, err)
	}
	return p.MinimumIndex
}

// repeat returns n copies of s.
func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// checkPrunedLog authenticates, over HTTP, every level-0 hash tile and
// every bundle the log still serves against its published checkpoint, and
// checks that each pruned bundle answers 410 with the pruned document: the
// log is whole but for the pruned entries, whose leaf hashes remain. It
// returns the size and the minimum index as last read (a schedule may
// prune while it reads).
func checkPrunedLog(t *testing.T, s *server, auditor string) (size, minimum uint64) {
	t.Helper()
	ctx := context.Background()
	f, err := tiles.NewFetcher(s.url)
	if err != nil {
		t.Fatal(err)
	}
	f = f.(*tiles.HTTPFetcher).WithToken(auditor)
	policy, err := tiles.NewLogPolicy(s.vkey)
	if err != nil {
		t.Fatal(err)
	}
	note, err := f.Fetch(ctx, tiles.CheckpointPath)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := policy.Verify(note)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	size, minimum = sc.Size, minimumIndex(t, s)
	tree := tiles.NewTree(f, sc.Checkpoint)
	for n := uint64(0); n < tiles.BundleCount(size); n++ {
		lt, _ := tiles.TileFor(0, n, size)
		if _, err := tree.ReadTile(ctx, lt); err != nil {
			t.Fatalf("hash tile %s: %v", lt.Path(), err)
		}
		bt, _ := tiles.BundleFor(n, size)
		if n < minimum/tiles.TileWidth {
			code, b := call(t, http.DefaultClient, "GET", s.url+bt.Path(), auditor, "")
			if p, err := tiles.ParsePruned(b); code != 410 || err != nil || p.MinimumIndex != minimum || !strings.Contains(string(b), `"status":"pruned"`) {
				t.Fatalf("GET %s, pruned: %d %s", bt.Path(), code, b)
			}
			continue
		}
		if _, err := tree.Bundle(ctx, n); err != nil {
			// A schedule may have pruned it since the minimum index was read.
			if minimum = minimumIndex(t, s); n < minimum/tiles.TileWidth {
				continue
			}
			t.Fatalf("bundle %d, which stays: %v", n, err)
		}
	}
	return size, minimum
}

// queryRows returns the index of every row GET /v1/events answers for
// query, and the tags of each.
func queryRows(t *testing.T, s *server, token, query string) map[uint64]map[string]string {
	t.Helper()
	code, b := call(t, http.DefaultClient, "GET", s.url+"v1/events?limit=1000&"+query, token, "")
	var resp struct {
		Events []struct {
			Index uint64
			Event struct{ Tags map[string]string }
		}
	}
	if code != 200 || json.Unmarshal(b, &resp) != nil {
		t.Fatalf("GET /v1/events?%s: %d %s", query, code, b)
	}
	rows := map[uint64]map[string]string{}
	for _, e := range resp.Events {
		rows[e.Index] = e.Event.Tags
	}
	return rows
}

// waitRows is queryRows once the query index answers at least n rows (it
// follows the log a little behind).
func waitRows(t *testing.T, s *server, token, query string, n int) map[uint64]map[string]string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if rows := queryRows(t, s, token, query); len(rows) >= n || time.Now().After(deadline) {
			return rows
		}
	}
}

// TestPruneE2E: with a one-second min for every event and a legal hold on
// one actor, `ledger prune` prunes the first bundle and stops at the held
// actor's event; the pruned bundle, events and proofs answer 410 with the
// pruned document, the rest of the log still authenticates, a tlog-proof
// fetched before still verifies, and the query index has dropped the
// pruned rows. Releasing the hold lets the next prune go past; every run
// and both hold changes are events in the log.
func TestPruneE2E(t *testing.T) {
	p := newPruneLog(t, "retention:\n  rules:\n    - {min: 1s}\n")
	s := p.serve(t, "--init")
	// Entry 0 is the policy's event; 1-300 u-1's, 301 u-held's, 302-551 u-2's.
	p.appendActors(t, s, repeat("u-1", 300)...)
	p.appendActors(t, s, "u-held")
	p.appendActors(t, s, repeat("u-2", 250)...)
	code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/holds", p.admin, `{"actor_id":"u-held","reason":"case 7"}`)
	var h struct{ ID string }
	if code != 201 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("place hold: %d %s", code, b)
	}
	code, proof := call(t, http.DefaultClient, "GET", s.url+"v1/proof/5", p.auditor, "")
	proofFile := filepath.Join(t.TempDir(), "entry-5.proof")
	if code != 200 || os.WriteFile(proofFile, proof, 0o600) != nil {
		t.Fatalf("proof of entry 5: %d %s", code, proof)
	}
	time.Sleep(1200 * time.Millisecond) // past every min

	out := p.prune(t, s, "--dry-run")
	for _, want := range []string{"dry run: nothing is removed", "may go: entries 0 to 300 (301 entries)",
		"would prune: entries 0 to 255 (256 entries); the minimum index would become 256",
		"the left edge stops at entry 301, which stays: legal hold " + h.ID + " (case 7) covers it"} {
		if !strings.Contains(out, want) {
			t.Errorf("ledger prune --dry-run does not say %q:\n%s", want, out)
		}
	}
	var res struct {
		DryRun       bool   `json:"dry_run"`
		MinimumIndex uint64 `json:"minimum_index"`
		Held         []struct{ Hold string }
	}
	if err := json.Unmarshal([]byte(p.prune(t, s, "--dry-run", "--json")), &res); err != nil || !res.DryRun || res.MinimumIndex != 256 || len(res.Held) != 1 || res.Held[0].Hold != h.ID {
		t.Errorf("ledger prune --dry-run --json: %+v, %v", res, err)
	}
	if m := minimumIndex(t, s); m != 0 {
		t.Fatalf("a dry run moved the minimum index to %d", m)
	}
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--url", s.url, "--token", p.auditor}, 1, "403"},
		{[]string{"--url", s.url, "--data", p.data}, 2, "no --data"},
		{[]string{"--url", "ftp://x"}, 2, "--url"},
		{[]string{"--dry-run", "--data", p.data}, 2, "needs --data and --config"},
		{[]string{"--url", s.url, "extra"}, 2, "unexpected argument"},
	} {
		out, err := exec.Command(p.ledgerBin, append([]string{"prune"}, c.args...)...).CombinedOutput()
		if exitCode(err) != c.code || !strings.Contains(string(out), c.says) {
			t.Errorf("ledger prune %v: exit %d, want %d saying %q:\n%s", c.args, exitCode(err), c.code, c.says, out)
		}
	}
	out = p.prune(t, s)
	for _, want := range []string{"pruned: entries 0 to 255 (256 entries); the minimum index is now 256",
		"the left edge stops at entry 301, which stays: legal hold " + h.ID + " (case 7) covers it"} {
		if !strings.Contains(out, want) {
			t.Errorf("ledger prune does not say %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(p.data, "log", "tile", "entries", "000")); !os.IsNotExist(err) {
		t.Errorf("the pruned bundle is still on disk: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(p.data, "log", tiles.PrunedPath)); err != nil || !strings.Contains(string(b), `"minimum_index":256`) {
		t.Errorf("DIR/log/pruned.json: %s %v", b, err)
	}
	for _, path := range []string{"tile/entries/000", "v1/events/5", "v1/proof/5"} {
		code, b := call(t, http.DefaultClient, "GET", s.url+path, p.auditor, "")
		if code != 410 || !strings.Contains(string(b), `"status":"pruned"`) || !strings.Contains(string(b), "the minimum index is 256") {
			t.Errorf("GET /%s: %d %s, want 410 with the pruned document", path, code, b)
		}
	}
	checkPrunedLog(t, s, p.auditor)
	// The proof fetched before the prune verifies: it needs only the
	// checkpoint and the hash tiles.
	if out, code := runCmd(t, p.verifierBin, "proof", proofFile, "--vkey", s.vkey); code != 0 {
		t.Errorf("verifier proof of a pruned entry's old proof: %d\n%s", code, out)
	}
	rows := queryRows(t, s, p.auditor, "actor_id=u-1")
	for i := range rows {
		if i < 256 {
			t.Errorf("the query index still answers pruned entry %d", i)
		}
	}
	if len(rows) != 300-255 {
		t.Errorf("the query index answers %d of u-1's events, want the %d at 256 and after", len(rows), 300-255)
	}

	if code, b := call(t, http.DefaultClient, "DELETE", s.url+"v1/admin/holds/"+h.ID, p.admin, ""); code != 200 {
		t.Fatalf("release: %d %s", code, b)
	}
	time.Sleep(1200 * time.Millisecond)
	if out := p.prune(t, s); !strings.Contains(out, "pruned: entries 256 to 511 (256 entries); the minimum index is now 512") {
		t.Errorf("ledger prune after the release:\n%s", out)
	}
	checkPrunedLog(t, s, p.auditor)
	// verifier audit of the pruned log: every hash tile and the root, the
	// remaining entries re-hashed, the pruned range reported.
	out, code = runCmd(t, p.verifierBin, "audit", "--log", s.url, "--vkey", s.vkey, "--token", p.auditor)
	if code != 0 || !strings.Contains(out, "ok pruned: entries 0–511 pruned (minimum index 512;") {
		t.Errorf("verifier audit of the pruned log: %d\n%s", code, out)
	}
	runs := waitRows(t, s, p.auditor, "event_type=retention.pruned", 2)
	var ranges []string
	for _, tags := range runs {
		ranges = append(ranges, tags["previous_minimum_index"]+"-"+tags["minimum_index"])
	}
	if len(runs) != 2 || !strings.Contains(strings.Join(ranges, " "), "0-256") || !strings.Contains(strings.Join(ranges, " "), "256-512") {
		t.Errorf("retention.pruned events: %v, want 0-256 and 256-512", ranges)
	}
	for _, typ := range []string{"admin.legal_hold_placed", "admin.legal_hold_released"} {
		if len(waitRows(t, s, p.auditor, "event_type="+typ, 1)) != 1 {
			t.Errorf("no %s event in the log", typ)
		}
	}
}

// TestPruneCrashE2E kills the ledger with SIGKILL while it prunes on a
// schedule (retention.prune_every), cycle after cycle, with events
// appended and aging past a one-second min, and a legal hold on one
// actor's event. After every restart: nothing that must stay is gone (the
// held event and everything after it, every bundle the minimum index does
// not cover authenticates against the checkpoint), the pruned bundles
// answer 410 and are gone from the disk (a prune that died is completed
// at start), and the log goes on pruning. 3 cycles by default, 12 with
// LEDGER_LONG_TESTS=1.
func TestPruneCrashE2E(t *testing.T) {
	p := newPruneLog(t, "retention:\n  rules:\n    - {min: 1s}\n  prune_every: 100ms\n")
	cycles := longtest.Count(3, 12)
	heldAt := cycles / 2 // the cycle that appends the held event
	var held uint64      // its index, once appended
	var holdID string
	kills, pruned := 0, uint64(0)
	for cycle := 0; cycle <= cycles; cycle++ {
		args := []string{}
		if cycle == 0 {
			args = append(args, "--init")
		}
		s := p.serve(t, args...)
		size, minimum := checkPrunedLog(t, s, p.auditor)
		if minimum < pruned {
			t.Fatalf("cycle %d: the minimum index went down from %d to %d", cycle, pruned, minimum)
		}
		pruned = minimum
		if holdID != "" && minimum > held/tiles.TileWidth*tiles.TileWidth {
			t.Fatalf("cycle %d: the minimum index %d passed the held event at %d", cycle, minimum, held)
		}
		for n := uint64(0); n < minimum/tiles.TileWidth; n++ {
			full := filepath.Join(p.data, "log", filepath.FromSlash(tiles.Tile{Index: n, Width: tiles.TileWidth, Entries: true}.Path()))
			if _, err := os.Stat(full); !os.IsNotExist(err) {
				t.Fatalf("cycle %d: pruned bundle %d is still on disk after a restart: %v", cycle, n, err)
			}
			if _, err := os.Stat(full + ".p"); !os.IsNotExist(err) {
				t.Fatalf("cycle %d: partial widths of pruned bundle %d are still on disk after a restart: %v", cycle, n, err)
			}
		}
		if holdID != "" {
			if code, b := call(t, http.DefaultClient, "GET", s.url+fmt.Sprintf("v1/events/%d", held), p.auditor, ""); code != 200 {
				t.Fatalf("cycle %d: the held event %d: %d %s", cycle, held, code, b)
			}
		}
		if cycle == cycles {
			t.Logf("%d SIGKILLs while the schedule pruned every 100 ms; the log of %d entries is pruned to %d", kills, size, minimum)
			stopServer(s)
			break
		}
		for range 3 {
			p.appendActors(t, s, repeat(fmt.Sprintf("u-%d", cycle), 200)...)
		}
		if cycle == heldAt {
			p.appendActors(t, s, "u-held")
			rows := waitRows(t, s, p.auditor, "actor_id=u-held", 1)
			for i := range rows {
				held = i
			}
			code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/holds", p.admin, `{"actor_id":"u-held","reason":"case 9"}`)
			var h struct{ ID string }
			if code != 201 || json.Unmarshal(b, &h) != nil {
				t.Fatalf("place hold: %d %s", code, b)
			}
			holdID = h.ID
		}
		// The schedule prunes what is a second old every 100 ms: the kill
		// lands while it works, or between its runs.
		time.Sleep(time.Duration(1000+rand.IntN(600)) * time.Millisecond)
		s.cmd.Process.Kill()
		s.cmd.Wait()
		kills++
	}
	if pruned == 0 {
		t.Fatal("nothing was ever pruned")
	}
	s := p.serve(t)
	if code, b := call(t, http.DefaultClient, "DELETE", s.url+"v1/admin/holds/"+holdID, p.admin, ""); code != 200 {
		t.Fatalf("release: %d %s", code, b)
	}
	time.Sleep(1200 * time.Millisecond)
	_, minimum := checkPrunedLog(t, s, p.auditor)
	if minimum <= held/tiles.TileWidth*tiles.TileWidth {
		t.Errorf("after the release the minimum index stays at %d, not past the held event at %d", minimum, held)
	}
	stopServer(s)
	// verifier audit of the log directory, pruned.
	// (The schedule may have pruned further before the server stopped.)
	if out, code := runCmd(t, p.verifierBin, "audit", "--log", filepath.Join(p.data, "log"), "--vkey", s.vkey); code != 0 ||
		!strings.Contains(out, "ok pruned: entries 0–") {
		t.Errorf("verifier audit of the pruned log: %d\n%s", code, out)
	}
	// The query and key indexes verify from the minimum index on.
	if out, err := exec.Command(p.ledgerBin, "index", "verify", "--data", p.data).CombinedOutput(); err != nil {
		t.Errorf("ledger index verify of the pruned log: %v\n%s", err, out)
	}
	// The offline dry run reads the pruned log too, from the minimum index
	// the log has now (the schedule may have moved it since).
	b, err := os.ReadFile(filepath.Join(p.data, "log", tiles.PrunedPath))
	if err != nil {
		t.Fatal(err)
	}
	final, err := tiles.ParsePruned(b)
	if err != nil || final.MinimumIndex < minimum {
		t.Fatalf("pruned.json after the stop: %s %v", b, err)
	}
	if out, err := exec.Command(p.ledgerBin, "prune", "--dry-run", "--data", p.data, "--config", p.conf).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), fmt.Sprintf("indexed entries read: %d to", final.MinimumIndex)) {
		t.Errorf("ledger prune --dry-run of the pruned log: %v\n%s", err, out)
	}
}

// TestPruneBucketE2E prunes a log served from a bucket (a directory)
// sequenced by PostgreSQL, with the query index in PostgreSQL: the
// minimum index is recorded by log_prune (a row of log_prunes says who
// and when), the bucket's bundle objects are deleted and its pruned.json
// written, pruned bundles answer 410, the rest authenticates, the index
// drops the pruned rows, and the offline dry run reads it all with
// --postgres.
func TestPruneBucketE2E(t *testing.T) {
	dsn := pgtest.New(t)
	bucket := t.TempDir()
	p := newPruneLog(t, "retention:\n  rules:\n    - {min: 1s}\n", "--postgres", dsn, "--bucket", bucket)
	s := p.serve(t, "--init")
	p.appendActors(t, s, repeat("u-1", 300)...)
	time.Sleep(1200 * time.Millisecond)
	if out := p.prune(t, s); !strings.Contains(out, "pruned: entries 0 to 255 (256 entries); the minimum index is now 256") {
		t.Fatalf("ledger prune:\n%s", out)
	}
	checkPrunedLog(t, s, p.auditor)
	if out, code := runCmd(t, p.verifierBin, "audit", "--log", bucket, "--vkey", s.vkey); code != 0 || !strings.Contains(out, "ok pruned: entries 0–255 pruned (minimum index 256;") {
		t.Errorf("verifier audit of the pruned bucket: %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(bucket, "tile", "entries", "000")); !os.IsNotExist(err) {
		t.Errorf("the pruned bundle's object is still in the bucket: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(bucket, tiles.PrunedPath)); err != nil || !strings.Contains(string(b), `"minimum_index":256`) {
		t.Errorf("the bucket's pruned.json: %s %v", b, err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var prunes int
	var by string
	if err := conn.QueryRow(t.Context(), `SELECT count(*), max(pruned_by) FROM log_prunes WHERE minimum_index = 256`).Scan(&prunes, &by); err != nil || prunes != 1 || by == "" {
		t.Errorf("log_prunes: %d rows by %q, %v; want 1", prunes, by, err)
	}
	for i := range queryRows(t, s, p.auditor, "actor_id=u-1") {
		if i < 256 {
			t.Errorf("the PostgreSQL query index still answers pruned entry %d", i)
		}
	}
	out, err := exec.Command(p.ledgerBin, "prune", "--dry-run", "--data", p.data, "--config", p.conf, "--postgres", dsn).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "indexed entries read: 256 to") {
		t.Errorf("ledger prune --dry-run --postgres: %v\n%s", err, out)
	}
}

// TestPruneArchiveE2E is the retention acceptance test, once with a
// directory archive and once with a real S3 bucket under Object Lock in
// compliance mode: nothing leaves the hot store before the archive holds
// it; after `ledger archive` the prune goes up to the archive's size; the
// pruned bundles answer 410 naming the archive, `verifier audit` passes and
// reports the pruned range, a tlog-proof fetched before the prune still
// verifies, the archived range passes `verifier audit --archive` and an
// evidence package built from the archive passes `verifier export`; with
// serve_pruned_reads the pruned entries are read from the archive.
func TestPruneArchiveE2E(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "worm", s3test.BucketOptions{ObjectLock: true, PublicRead: true})
	bucket.Prefix = "log"
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		// location is the archive in the configuration, audit where the
		// verifier reads it, block the rest of the archive block.
		location, audit, block string
	}{
		{"directory", dir, dir, ""},
		{"object-lock bucket", bucket.URL(), srv.URL("worm") + "log/", ", object_lock: compliance"},
	} {
		t.Run(c.name, func(t *testing.T) {
			config := func(extra string) string {
				return fmt.Sprintf("archive: {location: '%s'%s%s}\nretention:\n  rules:\n    - {min: 1h, available: 1s}\n", c.location, c.block, extra)
			}
			p := newPruneLog(t, config(""))
			s := p.serve(t, "--init")
			p.appendActors(t, s, repeat("u-1", 300)...)
			code, proof := call(t, http.DefaultClient, "GET", s.url+"v1/proof/5", p.auditor, "")
			proofFile := filepath.Join(t.TempDir(), "entry-5.proof")
			if code != 200 || os.WriteFile(proofFile, proof, 0o600) != nil {
				t.Fatalf("proof of entry 5: %d %s", code, proof)
			}
			time.Sleep(1200 * time.Millisecond) // past the available, not the min
			if out := p.prune(t, s); !strings.Contains(out, "pruned: nothing") || !strings.Contains(out, "it is not archived yet (the archive holds 0 entries)") {
				t.Fatalf("ledger prune before the archive:\n%s", out)
			}
			if out, err := exec.Command(p.ledgerBin, "archive", "--url", s.url, "--token", p.admin).CombinedOutput(); err != nil {
				t.Fatalf("ledger archive: %v\n%s", err, out)
			}
			location := c.location
			if !strings.HasPrefix(location, "s3://") {
				location = "file://" + filepath.ToSlash(location)
			}
			out := p.prune(t, s)
			if !strings.Contains(out, "pruned: entries 0 to 255 (256 entries); the minimum index is now 256") || !strings.Contains(out, "archive: "+location) {
				t.Fatalf("ledger prune after the archive:\n%s", out)
			}
			code, b := call(t, http.DefaultClient, "GET", s.url+"pruned.json", "", "")
			pr, err := tiles.ParsePruned(b)
			if code != 200 || err != nil || pr.MinimumIndex != 256 || pr.Archive == nil || pr.Archive.Location != location || pr.Archive.Size < 300 {
				t.Fatalf("GET /pruned.json: %d %s %v", code, b, err)
			}
			if code, b := call(t, http.DefaultClient, "GET", s.url+"tile/entries/000", p.auditor, ""); code != 410 || !strings.Contains(string(b), "archived at "+location) {
				t.Errorf("GET /tile/entries/000: %d %s, want 410 naming the archive", code, b)
			}
			checkPrunedLog(t, s, p.auditor)
			if out, code := runCmd(t, p.verifierBin, "audit", "--log", s.url, "--token", p.auditor, "--vkey", s.vkey); code != 0 || !strings.Contains(out, "entries 0–255 pruned") {
				t.Errorf("verifier audit of the pruned log: %d\n%s", code, out)
			}
			if out, code := runCmd(t, p.verifierBin, "proof", proofFile, "--vkey", s.vkey); code != 0 {
				t.Errorf("verifier proof of a pruned entry's old proof: %d\n%s", code, out)
			}
			if out, code := runCmd(t, p.verifierBin, "audit", "--log", s.url, "--token", p.auditor, "--vkey", s.vkey, "--archive", c.audit); code != 0 || !strings.Contains(out, "ok pruned: entries 0–255 pruned") {
				t.Errorf("verifier audit --archive: %d\n%s", code, out)
			}
			pkg := filepath.Join(t.TempDir(), "pkg")
			if out, err := exec.Command(p.ledgerBin, "export", "--archive", c.location, "--vkey", s.vkey, "--out", pkg, "--from", "0", "--to", "256").CombinedOutput(); err != nil {
				t.Fatalf("ledger export --archive: %v\n%s", err, out)
			}
			verify(t, p.verifierBin, "export", pkg, "--vkey", s.vkey)
			found := false
			for _, tg := range waitRows(t, s, p.auditor, "event_type=retention.pruned", 2) {
				found = found || (tg["minimum_index"] == "256" && strings.HasPrefix(tg["archive"], location))
			}
			if !found {
				t.Errorf("no retention.pruned event names the archive")
			}
			// With serve_pruned_reads, the pruned entries are read from the archive.
			stopServer(s)
			if err := os.WriteFile(p.conf, []byte(config(", serve_pruned_reads: true")), 0o600); err != nil {
				t.Fatal(err)
			}
			s = p.serve(t)
			for _, path := range []string{"tile/entries/000", "v1/events/5"} {
				if code, b := call(t, http.DefaultClient, "GET", s.url+path, p.auditor, ""); code != 200 {
					t.Errorf("GET /%s with serve_pruned_reads: %d %s", path, code, b)
				}
			}
		})
	}
}
