package ledger

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ledger's Prometheus metrics. Create them with NewMetrics
// and register them with Register; a nil *Metrics records nothing.
type Metrics struct {
	appended      prometheus.Counter
	flushes       prometheus.Histogram
	flushEntries  prometheus.Histogram
	pending       prometheus.Gauge
	treeSize      prometheus.Gauge
	publishedSize prometheus.Gauge
	quorum        prometheus.Gauge
	pushbacks     prometheus.Counter
	conflicts     prometheus.Counter
	witnessUp     *prometheus.GaugeVec
	witnessFails  *prometheus.CounterVec
	recovering    prometheus.Gauge
	reloadFails   prometheus.Counter
	publishFails  prometheus.Counter
}

// NewMetrics creates the ledger's metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledger_entries_appended_total",
			Help: "Entries committed to the log."}),
		flushes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ledger_flush_duration_seconds",
			Help: "Time to build, sign and durably commit one flush.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		flushEntries: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ledger_flush_entries",
			Help: "Entries per flush.", Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ledger_pending_entries",
			Help: "Entries waiting for the next flush."}),
		treeSize: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ledger_tree_size",
			Help: "Committed tree size."}),
		publishedSize: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ledger_published_tree_size",
			Help: "Tree size of the published checkpoint."}),
		quorum: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ledger_witness_quorum_met",
			Help: "1 if the published checkpoint meets the witness quorum, 0 if not, -1 without witnesses."}),
		pushbacks: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledger_pushback_total",
			Help: "Appends refused because too many entries were waiting."}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledger_sequencing_conflicts_total",
			Help: "Flushes displaced by another instance's commit and sequenced again after it."}),
		witnessUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ledger_witness_up",
			Help: "1 if the witness cosigned the last checkpoint sent to it, 0 if not."}, []string{"witness"}),
		witnessFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_witness_failures_total",
			Help: "Checkpoints a witness did not cosign (refused, unreachable or timed out)."}, []string{"witness"}),
		recovering: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ledger_sequencer_recovering",
			Help: "1 while the sequencer reloads the committed state after a failed flush (appends get 503), else 0."}),
		reloadFails: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledger_sequencer_reload_failures_total",
			Help: "Reloads of the committed state after a failed flush that failed too, and were retried."}),
		publishFails: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledger_publish_failures_total",
			Help: "Publishes of a checkpoint that storage refused, retried with backoff."}),
	}
}

// Register registers the metrics with r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.appended, m.flushes, m.flushEntries, m.pending, m.treeSize, m.publishedSize, m.quorum, m.pushbacks, m.conflicts, m.witnessUp, m.witnessFails, m.recovering, m.reloadFails, m.publishFails} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *Metrics) flushed(n int, d time.Duration, size uint64) {
	if m == nil {
		return
	}
	m.appended.Add(float64(n))
	m.flushes.Observe(d.Seconds())
	m.flushEntries.Observe(float64(n))
	m.treeSize.Set(float64(size))
}

func (m *Metrics) setPending(n int) {
	if m != nil {
		m.pending.Set(float64(n))
	}
}

func (m *Metrics) setSize(size uint64) {
	if m != nil {
		m.treeSize.Set(float64(size))
	}
}

func (m *Metrics) published(size uint64, witnessed, met bool) {
	if m == nil {
		return
	}
	m.publishedSize.Set(float64(size))
	switch {
	case !witnessed:
		m.quorum.Set(-1)
	case met:
		m.quorum.Set(1)
	default:
		m.quorum.Set(0)
	}
}

func (m *Metrics) pushback() {
	if m != nil {
		m.pushbacks.Inc()
	}
}

func (m *Metrics) conflict() {
	if m != nil {
		m.conflicts.Inc()
	}
}

func (m *Metrics) witnessRound(name string, ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.witnessUp.WithLabelValues(name).Set(1)
		return
	}
	m.witnessUp.WithLabelValues(name).Set(0)
	m.witnessFails.WithLabelValues(name).Inc()
}

func (m *Metrics) setRecovering(on bool) {
	if m == nil {
		return
	}
	if on {
		m.recovering.Set(1)
	} else {
		m.recovering.Set(0)
	}
}

func (m *Metrics) recoveryFailed() {
	if m != nil {
		m.reloadFails.Inc()
	}
}

func (m *Metrics) publishFailed() {
	if m != nil {
		m.publishFails.Inc()
	}
}
