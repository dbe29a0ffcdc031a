package archive_test

import (
	"testing"

	"github.com/ledger-dev/ledger/ledger/archive"
)

// BenchmarkRun archives a log of 65,536 entries into an empty directory
// per iteration: the copy, the read-back and the record.
func BenchmarkRun(b *testing.B) {
	const n = 1 << 16
	g := newLog(b)
	g.grow(n)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		dst := newDir(b)
		b.StartTimer()
		rec, err := archive.Run(b.Context(), archive.Config{Source: g.config(b, dst).Source, Target: dst, Location: "file:///bench", Policy: g.policy})
		if err != nil || rec.To != n {
			b.Fatalf("run: %+v, %v", rec, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
