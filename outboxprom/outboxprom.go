// Package outboxprom exports a relay's metrics to Prometheus through client_golang: pass
// Hooks to relay.Config and register the Metrics with your registry.
//
//	m := outboxprom.New()
//	prometheus.MustRegister(m)
//	r, err := relay.New(store, pub, &relay.Config{Hooks: m.Hooks()})
//
// It lives apart from the relay so that programs without Prometheus do not depend on
// client_golang. Every metric is documented in docs/observability.md.
package outboxprom

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firstunicorn/outbox/relay"
)

// Metrics are one relay's metrics; a prometheus.Collector.
type Metrics struct {
	events      *prometheus.CounterVec
	failures    *prometheus.CounterVec
	deadLetters prometheus.Counter
	commitToAck prometheus.Histogram
	batchSize   prometheus.Histogram
	batchTime   prometheus.Histogram
	leased      prometheus.Gauge
	alive       prometheus.Gauge
	lastPublish prometheus.Gauge
	lastSync    prometheus.Gauge
	backlog     backlog
	slot        slot
	// byTopic caches each topic's events_total counters: the Event hook runs for every
	// event, and a vector's WithLabelValues hashes its labels under a lock each time.
	byTopic sync.Map // topic -> *topicCounters
}

// topicCounters are one topic's events_total counters, by outcome.
type topicCounters struct{ sent, retry, dead, skipped prometheus.Counter }

func (m *Metrics) topic(name string) *topicCounters {
	if c, ok := m.byTopic.Load(name); ok {
		return c.(*topicCounters)
	}
	c := &topicCounters{
		sent:    m.events.WithLabelValues(name, string(relay.Sent)),
		retry:   m.events.WithLabelValues(name, string(relay.Retried)),
		dead:    m.events.WithLabelValues(name, string(relay.Dead)),
		skipped: m.events.WithLabelValues(name, string(relay.Skipped)),
	}
	actual, _ := m.byTopic.LoadOrStore(name, c)
	return actual.(*topicCounters)
}

// New returns the metrics, named outbox_relay_* and outbox_backlog_*, registered nowhere
// yet. The backlog gauges are set by SampleBacklog.
func New() *Metrics {
	const ns, sub = "outbox", "relay"
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_total",
			Help: "Event attempts by topic and outcome: sent (acknowledged by Kafka), retry, dead (dead-lettered), skipped (held back behind a failed event of its key)."},
			[]string{"topic", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "failures_total",
			Help: "Failed attempts by class: transient (broker or network), permanent (counts towards dead-lettering), malformed (the stored row is not a message)."},
			[]string{"class"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dead_letters_total",
			Help: "Events this relay dead-lettered. It starts at 0, so increase() sees the first one."}),
		commitToAck: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "commit_to_ack_seconds",
			Help:    "Time from an event's writer transaction (database clock) to Kafka's acknowledgement (relay clock).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 17)}), // 1 ms to 65 s
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_size_events",
			Help: "Events claimed per non-empty batch.", Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_duration_seconds",
			Help:    "Time from a batch's claim to its commit.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}), // 1 ms to 16 s
		leased: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "leased_buckets",
			Help: "Key buckets this relay holds (of 64)."}),
		alive: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "live_relays",
			Help: "Relays whose heartbeat is current, this one included, at its last lease sync."}),
		lastPublish: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "last_publish_timestamp_seconds",
			Help: "Unix time of the last event Kafka acknowledged; 0 before the first."}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "last_lease_sync_timestamp_seconds",
			Help: "Unix time of the last successful lease sync (heartbeat and renewal); 0 before the first."}),
		backlog: newBacklog(ns), slot: newSlot(ns),
	}
	// Every class exists from the start at 0, so that increase() sees the first failure.
	for _, f := range []relay.Failure{relay.Transient, relay.Permanent, relay.Malformed} {
		m.failures.WithLabelValues(string(f))
	}
	return m
}

func (m *Metrics) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{m.events, m.failures, m.deadLetters, m.commitToAck, m.batchSize, m.batchTime,
		m.leased, m.alive, m.lastPublish, m.lastSync}, append(m.backlog.collectors(), m.slot.collectors()...)...)
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// Hooks are the relay hooks that feed the metrics.
func (m *Metrics) Hooks() relay.Hooks {
	return relay.Hooks{Batch: m.batch, Event: m.event, Leases: m.leases}
}

func (m *Metrics) batch(s relay.BatchStats) {
	m.batchSize.Observe(float64(s.Claimed))
	m.batchTime.Observe(s.Duration.Seconds())
	if s.Published > 0 {
		m.lastPublish.SetToCurrentTime()
	}
}

func (m *Metrics) event(e relay.EventStats) {
	c := m.topic(e.Topic)
	switch e.Outcome {
	case relay.Sent:
		c.sent.Inc()
		m.commitToAck.Observe(max(e.CommitToAck, 0).Seconds())
	case relay.Retried:
		c.retry.Inc()
	case relay.Dead:
		c.dead.Inc()
		m.deadLetters.Inc()
	case relay.Skipped:
		c.skipped.Inc()
	}
	if e.Failure != "" {
		m.failures.WithLabelValues(string(e.Failure)).Inc()
	}
}

func (m *Metrics) leases(s relay.LeaseStats) {
	m.leased.Set(float64(s.Held))
	m.alive.Set(float64(s.Alive))
	m.lastSync.SetToCurrentTime()
}
