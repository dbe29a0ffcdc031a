package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/longtest"
	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/s3test"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
	"github.com/ledger-dev/ledger/ledger/mirror"
)

// TestMirrorBuckets fills a log in one versitygw bucket (sequenced by
// PostgreSQL) with `ledger bench fill`, runs `ledger mirror` to a second
// bucket, kills it with SIGKILL once it has recorded progress past half
// the log, and runs it again: it resumes, and the mirror passes `verifier
// audit` read over the second bucket's HTTP endpoint; that endpoint is
// mirrored again, over HTTP, into a directory. The log then grows, a byte
// of a new source bundle is changed (rewritten through S3, so the object's
// own checksum is right), and the mirror refuses to publish. Entries:
// 40,000, or 1,000,000 with LEDGER_LONG_TESTS=1.
func TestMirrorBuckets(t *testing.T) {
	ledgerBin, verifierBin, _ := buildBinaries(t)
	srv := s3test.Start(t)
	srcCfg := srv.Bucket(t, "source", s3test.BucketOptions{})
	dstCfg := srv.Bucket(t, "copy", s3test.BucketOptions{PublicRead: true})
	data, dsn := t.TempDir(), pgtest.New(t)
	entries := longtest.Count(40_000, 1_000_000)
	fill := func(n int) {
		t.Helper()
		start := time.Now()
		out, err := exec.Command(ledgerBin, "bench", "fill", "--data", data, "--postgres", dsn, "--bucket", srcCfg.URL(),
			"--origin", "example.com/mirror", "--entries", fmt.Sprint(n), "--no-index").CombinedOutput()
		if err != nil {
			t.Fatalf("bench fill: %v\n%s", err, out)
		}
		t.Logf("filled the source to %d entries in %s", n, time.Since(start).Round(time.Millisecond))
	}
	fill(entries)
	vkeyBytes, err := os.ReadFile(filepath.Join(data, "log.key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	vkey := strings.TrimSpace(string(vkeyBytes))
	dst, err := s3.Open(t.Context(), dstCfg)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"mirror", "--from", srcCfg.URL(), "--to", dstCfg.URL(), "--vkey", vkey}

	// Kill the first run once it has recorded progress past half the log.
	start := time.Now()
	cmd := exec.Command(ledgerBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killed := false
	for !killed {
		select {
		case err := <-done:
			t.Fatalf("the mirror finished before it could be killed (%v):\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		b, err := dst.Get(t.Context(), mirror.ProgressName)
		if err != nil && !errors.Is(err, blob.ErrNotExist) {
			t.Fatal(err)
		}
		var p struct {
			Size int `json:"size"`
		}
		if err == nil && json.Unmarshal(b, &p) == nil && p.Size >= entries/2 {
			cmd.Process.Kill()
			<-done
			killed = true
		}
	}
	if _, err := dst.Get(t.Context(), "checkpoint"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("a killed mirror published a checkpoint: %v", err)
	}
	killedAfter := time.Since(start)
	start = time.Now()
	resumed, err := exec.Command(ledgerBin, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(resumed), "resumed at") {
		t.Fatalf("resumed mirror: %v\n%s", err, resumed)
	}
	t.Logf("killed after %s; %s in %s", killedAfter.Round(time.Millisecond), strings.TrimSpace(string(resumed)), time.Since(start).Round(time.Millisecond))
	audit := verify(t, verifierBin, "audit", "--log", srv.URL("copy"), "--vkey", vkey)
	if !strings.Contains(audit, fmt.Sprintf("size %d ", entries)) {
		t.Fatalf("audit of the mirror: %s", audit)
	}
	t.Logf("mirror: %s", audit)
	// The copy is a log endpoint in its own right: mirror it, over HTTP,
	// into a directory.
	local := t.TempDir()
	again, err := exec.Command(ledgerBin, "mirror", "--from", srv.URL("copy"), "--to", local, "--vkey", vkey).CombinedOutput()
	if err != nil || !strings.Contains(string(again), fmt.Sprintf("mirrored size 0 to %d", entries)) {
		t.Fatalf("mirror of the copy's URL into a directory: %v\n%s", err, again)
	}
	verify(t, verifierBin, "audit", "--log", local, "--vkey", vkey)

	// The source grows; then one byte of a new bundle changes, written
	// through S3 (so the object's own checksum is right, as anyone with
	// write access to the bucket could do).
	fill(entries + 1000)
	src, err := s3.Open(t.Context(), srcCfg)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("tile/entries/%03d", (entries+300)/256%1000)
	if n := (entries + 300) / 256; n >= 1000 {
		name = fmt.Sprintf("tile/entries/x%03d/%03d", n/1000, n%1000)
	}
	b, err := src.Get(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 1
	if err := src.Put(t.Context(), name, b, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := dst.Get(t.Context(), "checkpoint")
	refused, err := exec.Command(ledgerBin, args...).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(refused), "does not match its signed checkpoint") {
		t.Fatalf("mirror of a changed source: %v\n%s", err, refused)
	}
	if now, _ := dst.Get(t.Context(), "checkpoint"); !bytes.Equal(now, before) {
		t.Fatal("the mirror published a checkpoint of a changed source")
	}
	t.Logf("a changed source: %s", strings.TrimSpace(string(refused)))
}
