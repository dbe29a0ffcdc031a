package event

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/ledger/subjectkey"
)

// benchBody is n NDJSON events of about 400 bytes, like `ledger bench` sends.
func benchBody(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		start := b.Len()
		fmt.Fprintf(&b, `{"event_type":"data.read","action":"read","actor":{"id":"user-%d","type":"user","email":"user%d@example.com"},`+
			`"resource":{"type":"record","id":"rec-%d"},"result":"success","source":"bench","ip_address":"192.0.2.%d",`+
			`"user_agent":"ledger-bench/1","request_id":"req-1-%d","tags":{"env":"prod"},"reason":"`, i%1000, i%1000, i, i%250, i)
		for b.Len()-start < 400-3 {
			b.WriteByte('x')
		}
		b.WriteString("\"}\n")
	}
	return b.Bytes()
}

// changesEvent is an event with typical changes: nested values, no secrets.
func changesEvent() *Event {
	e := fullEvent()
	e.Changes = map[string]Change{
		"title":    {Old: json.RawMessage(`"Q1 report"`), New: json.RawMessage(`"Q1 report (final)"`)},
		"status":   {Old: json.RawMessage(`"draft"`), New: json.RawMessage(`"published"`)},
		"owners":   {Old: json.RawMessage(`[{"id":"u-1","role":"editor"}]`), New: json.RawMessage(`[{"id":"u-1","role":"editor"},{"id":"u-2","role":"viewer"}]`)},
		"settings": {New: json.RawMessage(`{"visibility":"team","retention_days":90,"notify":{"email":true,"slack":false}}`)},
	}
	return e
}

// cpuClock measures the CPU time of this process, which other processes
// on a shared machine distort less than the wall time of ns/op.
type cpuClock struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuClock { return cpuClock{b, cpuTime()} }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds ns/event (wall) and cpu-ns/event for n events per op.
func (c cpuClock) report(n int) {
	ops := float64(c.b.N * n)
	c.b.ReportMetric(float64(c.b.Elapsed().Nanoseconds())/ops, "ns/event")
	c.b.ReportMetric(float64(cpuTime()-c.start)/ops, "cpu-ns/event")
}

func BenchmarkDecodeBatch(b *testing.B) {
	body := benchBody(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	clock := startCPU(b)
	for b.Loop() {
		events, _, err := decodeBatch(body, "application/x-ndjson", Limits{})
		if err != nil || len(events) != 1000 {
			b.Fatal(err)
		}
	}
	clock.report(1000)
}

func BenchmarkValidate(b *testing.B) {
	events, _, _ := decodeBatch(benchBody(1000), "application/x-ndjson", Limits{})
	now := time.Now()
	for _, ev := range events {
		ev.Normalize(now, NewID)
	}
	lim := DefaultLimits()
	b.ReportAllocs()
	clock := startCPU(b)
	for b.Loop() {
		for _, ev := range events {
			if p := ev.Validate(lim); p != nil {
				b.Fatal(p)
			}
		}
	}
	clock.report(len(events))
}

func BenchmarkLeaf(b *testing.B) {
	events, _, _ := decodeBatch(benchBody(1), "", Limits{})
	plain := events[0]
	plain.Normalize(time.Now(), NewID)
	for _, bm := range []struct {
		name string
		ev   *Event
	}{{"400B", plain}, {"changes", changesEvent()}} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 2048)
			clock := startCPU(b)
			for b.Loop() {
				var err error
				if buf, err = bm.ev.AppendLeaf(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			clock.report(1)
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkRedact(b *testing.B) {
	r := NewRedactor(DefaultRedactKeys)
	b.Run("clean", func(b *testing.B) { // the usual case: nothing to redact
		e := changesEvent()
		b.ReportAllocs()
		clock := startCPU(b)
		for b.Loop() {
			if r.Redact(e) != nil {
				b.Fatal("redacted")
			}
		}
		clock.report(1)
	})
	b.Run("secrets", func(b *testing.B) { // includes rebuilding the changes map
		e := changesEvent()
		b.ReportAllocs()
		clock := startCPU(b)
		defer clock.report(1)
		for b.Loop() {
			e.Changes = map[string]Change{
				"password": {Old: json.RawMessage(`"a"`), New: json.RawMessage(`"b"`)},
				"settings": {New: json.RawMessage(`{"smtp":{"host":"mail","password":"x"},"keys":[{"api_key":"k"}]}`)},
			}
			e.Tags = map[string]string{"env": "prod", "token": "t"}
			if len(r.Redact(e)) != 4 {
				b.Fatal("not redacted")
			}
		}
	})
}

// BenchmarkPipeline is the per-event work of POST /v1/events: decode,
// normalise, validate, redact, encode.
func BenchmarkPipeline(b *testing.B) {
	benchPrepare(b, NewPipeline(PipelineConfig{}), true)
}

// benchPrepare runs p.Prepare on the 1,000 events of benchBody and reports
// the time per event.
func benchPrepare(b *testing.B, p *Pipeline, setBytes bool) {
	body := benchBody(1000)
	if setBytes {
		b.SetBytes(int64(len(body)))
	}
	b.ReportAllocs()
	clock := startCPU(b)
	for b.Loop() {
		if _, err := p.Prepare(Submission{Body: body, ContentType: "application/x-ndjson"}); err != nil {
			b.Fatal(err)
		}
	}
	clock.report(1000)
}

func BenchmarkKeyOf(b *testing.B) {
	leaf, _ := fullEvent().Leaf()
	for b.Loop() {
		if _, err := KeyOf(leaf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValueDetectors is the CPU cost per event of the value detectors
// (DefaultDetectors): the same work with the key names only and with the
// detectors too, on the 400-byte events of `ledger bench` through the whole
// Pipeline, on an event with typical changes, and on one with a secret of
// each kind in its free text.
func BenchmarkValueDetectors(b *testing.B) {
	secrets := func() *Event {
		e := changesEvent()
		e.FailureReason = "card 4111 1111 1111 1111 declined; password=hunter3"
		e.Reason = "refund to GB82WEST12345698765432 for 123-45-6789"
		e.Tags = map[string]string{"note": "key AKIAIOSFODNN7EXAMPLE", "auth": "Bearer abc.def-123_xyz"}
		return e
	}
	for _, r := range []struct {
		name string
		red  *Redactor
	}{{"keys", NewRedactor(DefaultRedactKeys)}, {"detectors", NewRedactor(DefaultRedactKeys, DefaultDetectors...)}} {
		b.Run("pipeline-400B/"+r.name, func(b *testing.B) {
			benchPrepare(b, NewPipeline(PipelineConfig{Redactor: r.red}), false)
		})
		b.Run("changes/"+r.name, func(b *testing.B) {
			e := changesEvent()
			b.ReportAllocs()
			clock := startCPU(b)
			for b.Loop() {
				if r.red.Redact(e) != nil {
					b.Fatal("redacted")
				}
			}
			clock.report(1)
		})
		b.Run("secrets/"+r.name, func(b *testing.B) { // includes building the event
			b.ReportAllocs()
			clock := startCPU(b)
			defer clock.report(1)
			for b.Loop() {
				r.red.Redact(secrets())
			}
		})
	}
}

// BenchmarkSealing is the per-event cost of sealing through the Pipeline:
// the 1,000 events of benchBody (1,000 subjects) with sealing off, and on
// with the default fields under keys from a real subjectkey.File whose keys
// exist already (the usual case: a subject's first event also writes the
// file).
func BenchmarkSealing(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchPrepare(b, NewPipeline(PipelineConfig{}), false) })
	b.Run("on", func(b *testing.B) {
		master, err := subjectkey.NewMasterKey(make([]byte, 32))
		if err != nil {
			b.Fatal(err)
		}
		keys, err := subjectkey.OpenFile(filepath.Join(b.TempDir(), "subject-keys.json"), master)
		if err != nil {
			b.Fatal(err)
		}
		p := NewPipeline(PipelineConfig{Seal: &SealConfig{Sealing: Sealing{Fields: DefaultSealedFields}, Subject: "actor.id",
			Key: subjectkey.KeyFunc(context.Background(), keys)}})
		if _, err := p.Prepare(Submission{Body: benchBody(1000), ContentType: "application/x-ndjson"}); err != nil {
			b.Fatal(err)
		}
		benchPrepare(b, p, false)
	})
}
