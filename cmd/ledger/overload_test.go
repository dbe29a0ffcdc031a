package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/longtest"
)

// TestSlowClients opens N connections that each send the headers of an
// append and then one byte of its body every 5 s (reconnecting when cut),
// against a `ledger serve` whose open-file limit is N/2 + 1024: a client
// that keeps its connection appends and reads /healthz all along, each
// answer within 2 s, and a client on a new connection is answered within
// 10 s. The server serves at most its file limit less 1024 connections (the
// rest wait to be accepted, so storage keeps its descriptors) and times out
// a request body after --read-timeout. N is 4,000 by default and 20,000
// with LEDGER_LONG_TESTS=1, less what the test process's own file limit
// cannot hold.
func TestSlowClients(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	n := min(longtest.Count(4000, 20000), int(lim.Cur)-512)
	if n < 500 {
		t.Fatalf("the open-file limit (%d) leaves room for %d slow connections; raise it (ulimit -n)", lim.Cur, n)
	}
	serverFiles := n/2 + 1024
	cmd := exec.Command("sh", "-c", `ulimit -n "$0" && exec "$@"`, strconv.Itoa(serverFiles), ledgerBin,
		"serve", "--init", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--origin", "example.com/slow", "--read-timeout", "3s")
	s := startCmd(t, http.DefaultClient, cmd)
	addr := strings.TrimSuffix(strings.TrimPrefix(s.url, "http://"), "/")

	good := &http.Client{Timeout: 5 * time.Second}
	if code, _, body, _ := post(good, s.url, []map[string]any{testEvent("warm-up", 0)}); code != 200 {
		t.Fatalf("append before the slow clients: %d %s", code, body)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var open, cut atomic.Int64
	for i := range n {
		wg.Go(func() { slowClient(addr, i, stop, &open, &cut) })
	}
	for deadline := time.Now().Add(20 * time.Second); open.Load() < int64(n*9/10); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d slow connections open after 20 s", open.Load(), n)
		}
	}
	var worst time.Duration
	appends := 0
	for start := time.Now(); time.Since(start) < 4*time.Second; appends++ {
		t0 := time.Now()
		code, _, body, _ := post(good, s.url, []map[string]any{testEvent(fmt.Sprintf("good-%d", appends), appends)})
		if code != 200 {
			t.Fatalf("the well-behaved client's append %d during the slow clients: %d %s", appends, code, body)
		}
		if h := healthzWith(good, s.url); h != 200 {
			t.Fatalf("/healthz during the slow clients: %d", h)
		}
		worst = max(worst, time.Since(t0))
		time.Sleep(50 * time.Millisecond)
	}
	if worst > 2*time.Second {
		t.Errorf("the well-behaved client waited up to %s for an append and a /healthz", worst)
	}
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	t0 := time.Now()
	if h := healthzWith(fresh, s.url); h != 200 {
		t.Errorf("/healthz on a new connection during the slow clients: %d after %s", h, time.Since(t0))
	}
	freshTook := time.Since(t0)
	close(stop)
	wg.Wait()
	if s.cmd.ProcessState != nil {
		t.Fatalf("the server exited: %s", s.cmd.ProcessState)
	}
	t.Logf("%d slow connections (%d cut by the server and reopened), server file limit %d: %d appends and /healthz of a keep-alive client, the slowest %s; /healthz on a new connection in %s",
		n, cut.Load(), serverFiles, appends, worst.Round(time.Millisecond), freshTook.Round(time.Millisecond))
}

// slowClient keeps a connection to addr that sends an append's headers and
// then a byte of its body every 5 s, opening another when it is cut, until
// stop is closed.
func slowClient(addr string, i int, stop <-chan struct{}, open, cut *atomic.Int64) {
	head := fmt.Sprintf("POST /v1/events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nX-Slow: %d\r\n\r\n[", addr, i)
	for {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		open.Add(1)
		_, err = io.WriteString(conn, head)
		for err == nil {
			select {
			case <-stop:
				conn.Close()
				open.Add(-1)
				return
			case <-time.After(5 * time.Second):
			}
			_, err = conn.Write([]byte(" "))
		}
		conn.Close()
		open.Add(-1)
		cut.Add(1)
	}
}

// healthzWith returns the status of GET /healthz through client, 0 if it
// did not answer.
func healthzWith(client *http.Client, url string) int {
	resp, err := client.Get(url + "healthz")
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestMaximalBatches sends 32 batches of 10,000 events in 32 MiB bodies at
// once, twice, to a `ledger serve --max-body-memory 32MiB` (one such body at a time): each is
// answered 200 or 503 with Retry-After, some of each, and the server's peak
// resident memory (VmHWM) stays under 1 GiB.
func TestMaximalBatches(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	s := startServer(t, ledgerBin, "--data", t.TempDir(), "--origin", "example.com/big", "--max-body-memory", strconv.Itoa(32<<20), "--no-index")
	body := maximalBatch(t)
	statuses := map[string]int{}
	var mu sync.Mutex
	for range 2 {
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				client := &http.Client{Timeout: 2 * time.Minute}
				resp, err := client.Post(s.url+"v1/events", "application/json", bytes.NewReader(body))
				key := "error"
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					key = strconv.Itoa(resp.StatusCode)
					if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
						key = "503 without Retry-After"
					}
				}
				mu.Lock()
				statuses[key]++
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	peak := peakRSS(t, s.cmd.Process.Pid)
	t.Logf("answers %v; server peak RSS %d MiB", statuses, peak>>20)
	if statuses["200"] == 0 || statuses["503"] == 0 || statuses["200"]+statuses["503"] != 64 {
		t.Errorf("answers %v, want some 200s and some 503s with Retry-After, nothing else", statuses)
	}
	if peak > 1<<30 {
		t.Errorf("the server's peak RSS is %d MiB, want under 1024", peak>>20)
	}
}

// maximalBatch returns a JSON array of 10,000 events (the default largest
// batch) just under 32 MiB (the default largest body).
func maximalBatch(t *testing.T) []byte {
	pad := strings.Repeat("x", 3000)
	events := make([]map[string]any, 10000)
	for i := range events {
		ev := testEvent("", i)
		delete(ev, "id")
		ev["reason"] = pad
		events[i] = ev
	}
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 32<<20 {
		t.Fatalf("the batch is %d bytes, over the 32 MiB limit", len(b))
	}
	return b
}

// peakRSS returns the peak resident set size of process pid.
func peakRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}
