package spool

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T, dir string, segmentBytes int64) *Spool {
	t.Helper()
	s, err := Open(Config{Dir: dir, SegmentBytes: segmentBytes, Logger: slog.New(slog.NewTextHandler(logWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logWriter routes the spool's logs to t.Log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func appendN(t *testing.T, s *Spool, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := s.Append([]byte(fmt.Sprintf("event-%04d", i))); err != nil {
			t.Fatal(err)
		}
	}
}

// drain peeks and acks batches of up to n records until the spool is empty.
func drain(t *testing.T, s *Spool, n int) []string {
	t.Helper()
	var got []string
	for {
		recs, end, err := s.Peek(n, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return got
		}
		for _, r := range recs {
			got = append(got, string(r))
		}
		if err := s.Ack(end); err != nil {
			t.Fatal(err)
		}
	}
}

func names(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("event-%04d", i))
	}
	return out
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAppendPeekAck(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 256) // about 10 records per segment
	appendN(t, s, 0, 50)
	if n := len(segmentFiles(t, dir)); n < 4 {
		t.Fatalf("50 records of 22 bytes in 256-byte segments made %d files", n)
	}
	// Peek without Ack returns the same records again.
	a, _, _ := s.Peek(3, 1<<20)
	b, _, _ := s.Peek(3, 1<<20)
	if fmt.Sprintf("%s", a) != fmt.Sprintf("%s", b) || len(a) != 3 {
		t.Fatalf("two peeks: %s and %s", a, b)
	}
	// maxBytes bounds a batch, but a batch has at least one record.
	if recs, _, _ := s.Peek(100, 25); len(recs) != 2 {
		t.Fatalf("Peek(100, 25) returned %d records of 10 bytes", len(recs))
	}
	if recs, _, _ := s.Peek(100, 1); len(recs) != 1 {
		t.Fatalf("Peek(100, 1) returned %d records", len(recs))
	}
	if got := drain(t, s, 7); !slices.Equal(got, names(0, 50)) {
		t.Fatalf("drained %q", got)
	}
	// Sealed segments are deleted as they are acknowledged; the active one
	// stays until it is worth deleting.
	if files := segmentFiles(t, dir); len(files) > 1 {
		t.Fatalf("after draining, segments left: %v", files)
	}
	appendN(t, s, 50, 60)
	if got := drain(t, s, 100); !slices.Equal(got, names(50, 60)) {
		t.Fatalf("drained %q", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if files := segmentFiles(t, dir); len(files) != 0 {
		t.Fatalf("a drained spool was closed, segments left: %v", files)
	}
}

func TestReopenReplaysUnacknowledged(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 1<<20)
	appendN(t, s, 0, 10)
	recs, end, _ := s.Peek(4, 1<<20)
	if len(recs) != 4 || s.Ack(end) != nil {
		t.Fatalf("peek: %q", recs)
	}
	s.Close()
	// The cursor is not persisted: the segment comes back whole, and records
	// appended after the reopen follow it.
	s = open(t, dir, 1<<20)
	appendN(t, s, 10, 12)
	if got := drain(t, s, 3); !slices.Equal(got, names(0, 12)) {
		t.Fatalf("after reopen: %q", got)
	}
}

func TestTornTailOnDisk(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 1<<20)
	appendN(t, s, 0, 5)
	s.Close()
	files := segmentFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("segments: %v", files)
	}
	// What a crash in the middle of the next append leaves: part of a record.
	f, err := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := AppendRecord(nil, []byte("event-0005"))
	f.Write(torn[:len(torn)-4])
	f.Close()
	s = open(t, dir, 1<<20)
	appendN(t, s, 6, 8)
	if got := drain(t, s, 2); !slices.Equal(got, append(names(0, 5), names(6, 8)...)) {
		t.Fatalf("after a torn append: %q", got)
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, 0)
	if _, err := Open(Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second Open of one directory: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{}, {Dir: t.TempDir(), SegmentBytes: -1}} {
		if _, err := Open(cfg); err == nil {
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
	s := open(t, t.TempDir(), 0)
	if _, err := s.Append(make([]byte, MaxRecordBytes+1)); err == nil {
		t.Errorf("a record over MaxRecordBytes was appended")
	}
	s.Close()
	if _, err := s.Append([]byte("x")); err != ErrClosed {
		t.Errorf("Append after Close: %v", err)
	}
}

// TestKill9 appends from a child process that prints each acknowledged
// record, kills it with SIGKILL mid-stream, and checks that every record the
// child acknowledged is in the spool, in order, each once.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("SPOOL_TEST_CHILD_DIR"); dir != "" {
		childAppend(dir)
		return
	}
	dir := t.TempDir()
	var acked []string
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestKill9$")
		cmd.Env = append(os.Environ(), "SPOOL_TEST_CHILD_DIR="+dir, "SPOOL_TEST_ROUND="+strconv.Itoa(round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		timer := time.AfterFunc(time.Duration(50+40*round)*time.Millisecond, func() { cmd.Process.Kill() })
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
				acked = append(acked, v)
			}
		}
		timer.Stop()
		cmd.Process.Kill()
		cmd.Wait()
	}
	if len(acked) < 10 {
		t.Fatalf("the children acknowledged only %d records", len(acked))
	}
	s := open(t, dir, 0)
	got := drain(t, s, 100)
	pos := map[string]int{}
	for i, r := range got {
		if _, dup := pos[r]; dup {
			t.Fatalf("record %s is in the spool twice", r)
		}
		pos[r] = i
	}
	last := -1
	for _, a := range acked {
		i, ok := pos[a]
		if !ok || i < last {
			t.Fatalf("acknowledged record %s: in the spool %v, at %d after %d", a, ok, i, last)
		}
		last = i
	}
	t.Logf("%d records acknowledged before SIGKILLs, %d in the spool", len(acked), len(got))
}

func childAppend(dir string) {
	s, err := Open(Config{Dir: dir, SegmentBytes: 4096})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		rec := fmt.Sprintf("round-%s-%06d", os.Getenv("SPOOL_TEST_ROUND"), i)
		if _, err := s.Append([]byte(rec), []byte(rec+"-b")); err != nil {
			fmt.Println("append:", err)
			os.Exit(1)
		}
		fmt.Fprintf(w, "acked %s\nacked %s-b\n", rec, rec)
		w.Flush()
	}
}
