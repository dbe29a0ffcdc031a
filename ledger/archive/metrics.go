package archive

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the archive's Prometheus metrics; a nil *Metrics records
// nothing.
type Metrics struct {
	verified    prometheus.Gauge
	lastSuccess prometheus.Gauge
	runs        *prometheus.CounterVec
}

// NewMetrics creates the archive's metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		verified: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ledger_archive_verified_entries",
			Help: "Entries the archive holds, read back and verified by the last run that finished (what pruning may reach)."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ledger_archive_last_success_timestamp_seconds",
			Help: "When the last archive run that finished ended (Unix time); alert when it is older than a few intervals."}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_archive_runs_total",
			Help: "Archive runs, by result: success or failure."}, []string{"result"}),
	}
}

// Register registers the metrics with r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.verified, m.lastSuccess, m.runs} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// ran records the end of a run at t: rec if it succeeded, else a failure.
func (m *Metrics) ran(rec Record, err error, t time.Time) {
	if m == nil {
		return
	}
	if err != nil {
		m.runs.WithLabelValues("failure").Inc()
		return
	}
	m.runs.WithLabelValues("success").Inc()
	m.verified.Set(float64(rec.To))
	m.lastSuccess.Set(float64(t.Unix()))
}
