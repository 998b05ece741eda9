package outboxprom

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firstunicorn/outbox/inbox"
)

// InboxMetrics are one inbox consumer's metrics; a prometheus.Collector. Pass Hooks to
// inbox.ConsumerConfig:
//
//	m := outboxprom.NewInbox()
//	prometheus.MustRegister(m)
//	c, err := inbox.NewConsumer(store, handle, &inbox.ConsumerConfig{..., Hooks: m.Hooks()})
type InboxMetrics struct {
	events *prometheus.CounterVec
	handle *prometheus.HistogramVec
	lag    *prometheus.GaugeVec
}

// NewInbox returns the metrics, named outbox_inbox_*, registered nowhere yet.
func NewInbox() *InboxMetrics {
	const ns, sub = "outbox", "inbox"
	return &InboxMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_total",
			Help: "Event attempts by topic and outcome: handled (the handler's transaction committed), duplicate (already applied; handler not called), retry, dead (dead-lettered)."},
			[]string{"topic", "outcome"}),
		handle: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "handle_duration_seconds",
			Help:    "Time of one attempt: the transaction, the inbox's record, the handler and the commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, // 0.5 ms to 16 s
			[]string{"topic"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "lag_records",
			Help: "Records of the partition behind the last one handled, as of its fetch."},
			[]string{"topic", "partition"}),
	}
}

// Describe implements prometheus.Collector.
func (m *InboxMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.events.Describe(ch)
	m.handle.Describe(ch)
	m.lag.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *InboxMetrics) Collect(ch chan<- prometheus.Metric) {
	m.events.Collect(ch)
	m.handle.Collect(ch)
	m.lag.Collect(ch)
}

// Hooks are the inbox hooks that feed the metrics.
func (m *InboxMetrics) Hooks() inbox.Hooks { return inbox.Hooks{Event: m.event} }

func (m *InboxMetrics) event(e inbox.EventStats) {
	m.events.WithLabelValues(e.Topic, string(e.Outcome)).Inc()
	if e.Outcome != inbox.Duplicate {
		m.handle.WithLabelValues(e.Topic).Observe(e.Duration.Seconds())
	}
	if e.Outcome == inbox.Handled || e.Outcome == inbox.Dead {
		m.lag.WithLabelValues(e.Topic, strconv.Itoa(int(e.Partition))).Set(float64(e.Lag))
	}
}
