package main_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ledger-dev/ledger/internal/longtest"
	"github.com/ledger-dev/ledger/internal/s3test"
	"github.com/ledger-dev/ledger/ledger/archive"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
	"github.com/ledger-dev/ledger/ledger/mirror"
	"github.com/ledger-dev/ledger/tiles"
)

// appendEvents appends n events with token and waits until they are
// published.
func appendEvents(t *testing.T, s *server, token string, from, n int) {
	t.Helper()
	var lines []map[string]any
	for i := from; i < from+n; i++ {
		lines = append(lines, testEvent(fmt.Sprintf("archived-%d", i), i))
	}
	body, _ := json.Marshal(lines)
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/events?wait=published", token, string(body)); code != 200 {
		t.Fatalf("append: %d %s", code, b)
	}
}

// TestArchiveE2E archives a running ledger to a versitygw bucket with
// Object Lock (`ledger archive`, POST /v1/admin/archive) and checks what an
// operator and an auditor see: the run's output, the locked objects, the
// retention.archived event, an evidence package built from the archive
// alone that `verifier export` passes (whole, and filtered), a changed
// archived object found, a locked archive refused at start in a directory
// and in a bucket without Object Lock, and a directory archive filled on a
// schedule.
func TestArchiveE2E(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "worm", s3test.BucketOptions{ObjectLock: true})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	admin := newToken(t, ledgerBin, data, "--role", "admin")
	auditor := newToken(t, ledgerBin, data, "--role", "auditor")
	writer := newToken(t, ledgerBin, data, "--role", "writer")
	confFile := filepath.Join(dir, "ledger.yaml")
	writeConf := func(archiveBlock string) {
		t.Helper()
		text := "archive: " + archiveBlock + "\nretention: {rules: [{preset: soc2}]}\n"
		if err := os.WriteFile(confFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConf(fmt.Sprintf("{location: '%s', object_lock: compliance}", bucket.URL()))
	s := startLedger(t, http.DefaultClient, ledgerBin, "serve", "--init", "--data", data, "--config", confFile, "--listen", "127.0.0.1:0", "--publish-interval", "20ms")
	appendEvents(t, s, writer, 0, 700)

	start := time.Now()
	out, err := exec.Command(ledgerBin, "archive", "--url", s.url, "--token", admin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "archived entries 0 to ") || !strings.Contains(string(out), "read back and verified") || !strings.Contains(string(out), "locked until "+time.Now().AddDate(1, 0, 0).Format("2006-01-02")) {
		t.Fatalf("ledger archive: %v\n%s", err, out)
	}
	t.Logf("%s (%s)", strings.TrimSpace(string(out)), time.Since(start).Round(time.Millisecond))
	if out, err := exec.Command(ledgerBin, "archive", "--url", s.url, "--token", auditor).CombinedOutput(); exitCode(err) != 1 || !strings.Contains(string(out), "403") {
		t.Fatalf("ledger archive with an auditor's token: %v\n%s", err, out)
	}
	st, err := s3.Open(t.Context(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := tiles.NewLogPolicy(s.vkey)
	if err != nil {
		t.Fatal(err)
	}
	rec, cp, err := archive.Last(t.Context(), st, policy)
	if err != nil || cp.Size < 700 || rec.To != cp.Size {
		t.Fatalf("the archive's record: %+v, %v", rec, err)
	}
	if err := tiles.Audit(t.Context(), mirror.Fetcher(st), cp, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit of the archive: %v", err)
	}
	for _, name := range []string{archive.RecordName, "checkpoint", "tile/entries/000", "tile/0/000"} {
		head, err := srv.Client().HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String(name)})
		if err != nil || head.ObjectLockMode != types.ObjectLockModeCompliance || !head.ObjectLockRetainUntilDate.Equal(rec.RetainUntil) {
			t.Fatalf("%s: %v; want locked in compliance mode until %v", name, err, rec.RetainUntil)
		}
	}
	sum := sha256.Sum256([]byte(rec.Checkpoint))
	if rec.CheckpointSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("the record's checkpoint_sha256 %s is not its checkpoint's", rec.CheckpointSHA256)
	}

	// The run is an event in the log.
	q := url.Values{"event_type": {"retention.archived"}, "until": {time.Now().Add(time.Minute).Format(time.RFC3339)}}
	var tags map[string]string
	for deadline := time.Now().Add(10 * time.Second); tags == nil; time.Sleep(20 * time.Millisecond) {
		code, b := call(t, http.DefaultClient, "GET", s.url+"v1/events?"+q.Encode(), auditor, "")
		var page struct {
			Events []struct {
				Event struct {
					Actor  struct{ ID, Type string }
					Result string
					Tags   map[string]string
				}
			}
		}
		if code != 200 || json.Unmarshal(b, &page) != nil {
			t.Fatalf("query: %d %s", code, b)
		}
		if len(page.Events) > 0 {
			e := page.Events[0].Event
			if e.Actor.ID != "ledger" || e.Actor.Type != "system" || e.Result != "success" {
				t.Fatalf("the retention.archived event: %+v", e)
			}
			tags = e.Tags
		} else if time.Now().After(deadline) {
			t.Fatal("no retention.archived event")
		}
	}
	if tags["from"] != "0" || tags["to"] != fmt.Sprint(rec.To) || tags["location"] != bucket.URL() || tags["checkpoint_sha256"] != rec.CheckpointSHA256 ||
		tags["retain_until"] != rec.RetainUntil.Format(time.RFC3339) {
		t.Fatalf("the retention.archived event's tags %v, for the record %+v", tags, rec)
	}

	// Evidence from the archive alone, checked offline.
	whole := filepath.Join(dir, "whole")
	if out, err := exec.Command(ledgerBin, "export", "--archive", bucket.URL(), "--vkey", s.vkey, "--out", whole).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), fmt.Sprintf("exported %d events", rec.To)) {
		t.Fatalf("ledger export --archive: %v\n%s", err, out)
	}
	if got := verify(t, verifierBin, "export", whole, "--vkey", s.vkey); !strings.Contains(got, fmt.Sprint(rec.To)) {
		t.Fatalf("verifier export of the archive's package: %s", got)
	}
	some := filepath.Join(dir, "some")
	if out, err := exec.Command(ledgerBin, "export", "--archive", bucket.URL(), "--vkey", s.vkey, "--out", some, "--actor-id", "user-3", "--since", "2000-01-01T00:00:00Z").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "exported 41 events") { // user-3 of user-0 … user-16, over 700 events
		t.Fatalf("ledger export --archive --actor-id: %v\n%s", err, out)
	}
	verify(t, verifierBin, "export", some, "--vkey", s.vkey)
	ranged := filepath.Join(dir, "range")
	if out, err := exec.Command(ledgerBin, "export", "--archive", bucket.URL(), "--vkey", s.vkey, "--out", ranged, "--from", "250", "--to", "300").CombinedOutput(); err != nil {
		t.Fatalf("ledger export --archive --from --to: %v\n%s", err, out)
	}
	verify(t, verifierBin, "export", ranged, "--vkey", s.vkey)
	for _, args := range [][]string{{"--out", filepath.Join(dir, "x")}, {"--vkey", s.vkey, "--out", filepath.Join(dir, "y"), "--url", s.url}} {
		if out, err := exec.Command(ledgerBin, append([]string{"export", "--archive", bucket.URL()}, args...)...).CombinedOutput(); exitCode(err) != 2 {
			t.Errorf("ledger export --archive %v: %v, want exit status 2\n%s", args, err, out)
		}
	}

	// A changed archived object: Object Lock keeps the locked version, but
	// anyone who may write the bucket can put a newer one over it. It is
	// found; deleting that newer version (which is not locked) brings the
	// locked one back.
	orig, err := st.Get(t.Context(), "tile/entries/001")
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(orig, []byte(`"user-`), []byte(`"usex-`), 1)
	put, err := srv.Client().PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String("worm"), Key: aws.String("tile/entries/001"), Body: bytes.NewReader(changed)})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(ledgerBin, "export", "--archive", bucket.URL(), "--vkey", s.vkey, "--out", filepath.Join(dir, "tampered")).CombinedOutput(); exitCode(err) != 1 ||
		!strings.Contains(string(out), "does not match its leaf hash") {
		t.Fatalf("ledger export of a changed archive: %v\n%s", err, out)
	}
	if _, err := srv.Client().DeleteObject(t.Context(), &awss3.DeleteObjectInput{Bucket: aws.String("worm"), Key: aws.String("tile/entries/001"), VersionId: put.VersionId}); err != nil {
		t.Fatal(err)
	}
	if b, err := st.Get(t.Context(), "tile/entries/001"); err != nil || !bytes.Equal(b, orig) {
		t.Fatalf("the locked version after the newer one was deleted: %v", err)
	}
	stopServer(s)

	// A directory archive on a schedule, and a locked one refused there.
	arch := filepath.Join(dir, "archive")
	writeConf(fmt.Sprintf("{location: '%s', object_lock: compliance}", arch))
	if out, err := exec.Command(ledgerBin, "serve", "--data", data, "--config", confFile, "--listen", "127.0.0.1:0").CombinedOutput(); exitCode(err) != 2 ||
		!strings.Contains(string(out), "cannot lock its files") {
		t.Fatalf("serve with a locked directory archive: %v\n%s", err, out)
	}
	plain := srv.Bucket(t, "plain", s3test.BucketOptions{})
	writeConf(fmt.Sprintf("{location: '%s', object_lock: compliance}", plain.URL()))
	if out, err := exec.Command(ledgerBin, "serve", "--data", data, "--config", confFile, "--listen", "127.0.0.1:0").CombinedOutput(); exitCode(err) != 2 ||
		!strings.Contains(string(out), "Object Lock is not enabled") {
		t.Fatalf("serve with a locked archive in a bucket without Object Lock: %v\n%s", err, out)
	}
	writeConf(fmt.Sprintf("{location: '%s', every: 50ms}", arch))
	s = startLedger(t, http.DefaultClient, ledgerBin, "serve", "--data", data, "--config", confFile, "--listen", "127.0.0.1:0", "--publish-interval", "20ms")
	defer stopServer(s)
	appendEvents(t, s, writer, 700, 300)
	dirStore, err := blob.NewDir(arch)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if cp, err := archive.Reach(t.Context(), dirStore, policy); err == nil && cp.Size >= 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scheduled archive did not reach the log's size")
		}
	}
	t.Logf("verifier audit of the directory archive: %s", verify(t, verifierBin, "audit", "--log", arch, "--vkey", s.vkey))
	// The verifier takes the archive for what it is: a copy of the log.
	t.Logf("verifier audit --archive: %s", verify(t, verifierBin, "audit", "--log", s.url, "--token", auditor, "--vkey", s.vkey, "--archive", arch))
}

// TestArchiveKilled kills `ledger serve` with SIGKILL while it archives to
// a bucket with Object Lock, over and over (the log grows between kills),
// and checks after each kill that archive.Reach reports a size whose every
// entry and tile is in the archive and audits, and never goes back; then a
// last run finishes and the archive and the log pass audit. Kills mid-run:
// 3 by default (about 10 s), 12 with LEDGER_LONG_TESTS=1 (about 40 s).
func TestArchiveKilled(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "worm", s3test.BucketOptions{ObjectLock: true})
	st, err := s3.Open(t.Context(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	confFile := filepath.Join(dir, "ledger.yaml")
	conf := fmt.Sprintf("archive: {location: '%s', object_lock: compliance}\nretention: {rules: [{min: 1h}]}\n", bucket.URL())
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	size := 17000
	fill := func() {
		t.Helper()
		size += 3000
		if out, err := exec.Command(ledgerBin, "bench", "fill", "--data", data, "--origin", "example.com/archive", "--entries", fmt.Sprint(size), "--no-index").CombinedOutput(); err != nil {
			t.Fatalf("bench fill: %v\n%s", err, out)
		}
	}
	objects := func() int {
		n := 0
		filepath.WalkDir(filepath.Join(srv.Dir, "worm"), func(_ string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	// A first run that finishes.
	fill()
	s := startLedger(t, http.DefaultClient, ledgerBin, "serve", "--data", data, "--config", confFile, "--listen", "127.0.0.1:0", "--no-index")
	policy, err := tiles.NewLogPolicy(s.vkey)
	if err != nil {
		t.Fatal(err)
	}
	if code, b := call(t, http.DefaultClient, "POST", s.url+"v1/admin/archive", "", ""); code != 200 {
		t.Fatalf("the first run: %d %s", code, b)
	}
	stopServer(s)
	want := longtest.Count(3, 12)
	killed, finished := 0, 0
	var reached uint64 // what Reach said after the last kill
	moves := 0         // how often it moved
	for cycle := 0; killed < want; cycle++ {
		if cycle > 3*want {
			t.Fatalf("only %d of %d runs were killed mid-run", killed, cycle)
		}
		fill()
		s := startLedger(t, http.DefaultClient, ledgerBin, "serve", "--data", data, "--config", confFile, "--listen", "127.0.0.1:0", "--no-index")
		before := objects()
		done := make(chan int, 1)
		go func() {
			resp, err := http.Post(s.url+"v1/admin/archive", "", nil)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		// Kill at a point anywhere in the run: a run writes about two
		// objects (a bundle and its tile) per 256 entries since the last
		// verified size, then the checkpoint and the record.
		after := before + 1 + rand.IntN(2*(size-int(reached))/256+4)
		status := -1
		for status < 0 && objects() < after {
			select {
			case status = <-done:
			case <-time.After(2 * time.Millisecond):
			}
		}
		s.cmd.Process.Kill()
		s.cmd.Wait()
		if status < 0 {
			status = <-done
		}
		switch status {
		case 0:
			killed++
		case 200:
			finished++
		default:
			t.Fatalf("cycle %d: the archive run answered %d", cycle, status)
		}
		rec, cp, err := archive.Last(t.Context(), st, policy)
		switch {
		case err != nil:
			t.Fatalf("cycle %d: the archive's record after a kill: %v", cycle, err)
		case rec.To < reached:
			t.Fatalf("cycle %d: Reach went back from %d to %d", cycle, reached, rec.To)
		default:
			if rec.To > reached {
				moves++
			}
			reached = rec.To
			if rec.To > uint64(size) {
				t.Fatalf("cycle %d: Reach says %d, beyond the log's %d", cycle, rec.To, size)
			}
			if err := tiles.Audit(t.Context(), mirror.Fetcher(st), cp, tiles.AuditOptions{}); err != nil {
				t.Fatalf("cycle %d: Reach says %d, but the archive there does not audit: %v", cycle, rec.To, err)
			}
		}
	}
	t.Logf("%d runs killed mid-run, %d finished before the kill; Reach moved %d times", killed, finished, moves)
	s = startLedger(t, http.DefaultClient, ledgerBin, "serve", "--data", data, "--config", confFile, "--listen", "127.0.0.1:0", "--no-index")
	defer stopServer(s)
	out, err := exec.Command(ledgerBin, "archive", "--url", s.url, "--json").CombinedOutput()
	var rec archive.Record
	if err != nil || json.Unmarshal(out, &rec) != nil || rec.To < uint64(size) {
		t.Fatalf("the last run: %v\n%s", err, out)
	}
	cp, err := archive.Reach(t.Context(), st, policy)
	if err != nil || cp.Size != rec.To {
		t.Fatalf("Reach after the last run: %d, %v; want %d", cp.Size, err, rec.To)
	}
	if got, runs := metric(s.url, "ledger_archive_verified_entries"), metric(s.url, `ledger_archive_runs_total{result="success"}`); got != float64(rec.To) || runs != 1 {
		t.Fatalf("metrics after the last run: %v verified entries, %v successful runs; want %d and 1", got, runs, rec.To)
	}
	if err := tiles.Audit(t.Context(), mirror.Fetcher(st), cp, tiles.AuditOptions{}); err != nil {
		t.Fatalf("audit of the archive: %v", err)
	}
	verify(t, verifierBin, "audit", "--log", s.url, "--vkey", s.vkey)
}
