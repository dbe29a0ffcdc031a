package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/ledger/witness/witnesstest"
)

// BenchmarkAddCheckpoint measures add-checkpoint requests per second that a
// real `witness serve` process cosigns over HTTP on 127.0.0.1, with each
// store. logs clients (one per log, as each log submits its checkpoints in
// order) each send their log's next checkpoint with a consistency proof
// from the previous one, as soon as the previous is cosigned. Every answer
// must be a 200. The requests are signed and framed as HTTP/1.1 before the
// timer starts, and each client writes them on its own keep-alive
// connection, so the load generator's CPU goes to the network. Besides
// requests/s it reports the CPU time the witness process and the load
// generator spent per request: on this shared machine those vary less with
// other load than the wall-clock rate does.
func BenchmarkAddCheckpoint(b *testing.B) {
	for _, store := range []string{"file", "postgres"} {
		for _, logs := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("store=%s/logs=%d", store, logs), func(b *testing.B) {
				benchAddCheckpoint(b, store, logs)
			})
		}
	}
}

func benchAddCheckpoint(b *testing.B, store string, nlogs int) {
	perLog := (b.N + nlogs - 1) / nlogs
	var logs []*witnesstest.Log
	reqs := make([][][]byte, nlogs)
	for i := range nlogs {
		l := witnesstest.NewLog(b, fmt.Sprintf("bench.example/log%d", i))
		l.Grow(perLog)
		logs = append(logs, l)
		for size := 1; size <= perLog; size++ {
			body := l.Request(b, uint64(size-1), uint64(size)).Marshal()
			reqs[i] = append(reqs[i], fmt.Appendf(nil, "POST /add-checkpoint HTTP/1.1\r\nHost: witness\r\n"+
				"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
		}
	}
	s := newSetup(b, logs...)
	flags := []string{"--listen", "127.0.0.1:0", "--state", filepath.Join(s.dir, "state")}
	if store == "postgres" {
		flags = []string{"--listen", "127.0.0.1:0", "--postgres", pgtest.New(b)}
	}
	p := s.serve(b, flags...)
	conns := make([]net.Conn, nlogs)
	for i := range conns {
		c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	b.ResetTimer()
	serverCPU, clientCPU, dbCPU := procCPU(b, p.cmd.Process.Pid), selfCPU(), postgresCPU(b)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range nlogs {
		wg.Go(func() {
			r := bufio.NewReader(conns[i])
			for _, req := range reqs[i] {
				if _, err := conns[i].Write(req); err != nil {
					b.Error(err)
					return
				}
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					b.Error(err)
					return
				}
				msg, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Errorf("log %d: %s: %s %v", i, resp.Status, msg, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	n := float64(perLog * nlogs)
	b.ReportMetric(n/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(procCPU(b, p.cmd.Process.Pid)-serverCPU)/n/1e3, "server-CPU-µs/req")
	b.ReportMetric(float64(selfCPU()-clientCPU)/n/1e3, "client-CPU-µs/req")
	if store == "postgres" {
		b.ReportMetric(float64(postgresCPU(b)-dbCPU)/n/1e3, "postgres-CPU-µs/req")
	}
}

// postgresCPU returns the CPU time used by the PostgreSQL processes this
// machine shows (the server the benchmark uses, if it runs here).
func postgresCPU(b *testing.B) time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var total time.Duration
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			total += procCPU(b, pid)
		}
	}
	return total
}

// procCPU returns the user+system CPU time the process pid has used (0 if
// it is gone).
func procCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// selfCPU returns the user+system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
