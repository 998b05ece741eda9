package outboxprom_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/firstunicorn/outbox/outboxprom"
	"github.com/firstunicorn/outbox/relay"
)

// What the relay's hooks report lands in the metrics, under names Prometheus's linter
// accepts.
func TestHooksFeedMetrics(t *testing.T) {
	m := outboxprom.New()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	h := m.Hooks()
	for range 3 {
		h.Event(relay.EventStats{Topic: "orders", Outcome: relay.Sent, Attempt: 1, CommitToAck: 20 * time.Millisecond})
	}
	h.Event(relay.EventStats{Topic: "orders", Outcome: relay.Retried, Failure: relay.Transient, Attempt: 1})
	h.Event(relay.EventStats{Topic: "payments", Outcome: relay.Dead, Failure: relay.Permanent, Attempt: 5})
	h.Event(relay.EventStats{Topic: "orders", Outcome: relay.Skipped, Attempt: 1})
	h.Batch(relay.BatchStats{Claimed: 6, Published: 3, Failed: 2, Dead: 1, Skipped: 1, Duration: 30 * time.Millisecond})
	h.Leases(relay.LeaseStats{Held: 32, Alive: 2})

	want := `
# HELP outbox_relay_events_total Event attempts by topic and outcome: sent (acknowledged by Kafka), retry, dead (dead-lettered), skipped (held back behind a failed event of its key).
# TYPE outbox_relay_events_total counter
outbox_relay_events_total{outcome="dead",topic="orders"} 0
outbox_relay_events_total{outcome="dead",topic="payments"} 1
outbox_relay_events_total{outcome="retry",topic="orders"} 1
outbox_relay_events_total{outcome="retry",topic="payments"} 0
outbox_relay_events_total{outcome="sent",topic="orders"} 3
outbox_relay_events_total{outcome="sent",topic="payments"} 0
outbox_relay_events_total{outcome="skipped",topic="orders"} 1
outbox_relay_events_total{outcome="skipped",topic="payments"} 0
# HELP outbox_relay_failures_total Failed attempts by class: transient (broker or network), permanent (counts towards dead-lettering), malformed (the stored row is not a message).
# TYPE outbox_relay_failures_total counter
outbox_relay_failures_total{class="malformed"} 0
outbox_relay_failures_total{class="permanent"} 1
outbox_relay_failures_total{class="transient"} 1
# HELP outbox_relay_dead_letters_total Events this relay dead-lettered. It starts at 0, so increase() sees the first one.
# TYPE outbox_relay_dead_letters_total counter
outbox_relay_dead_letters_total 1
# HELP outbox_relay_leased_buckets Key buckets this relay holds (of 64).
# TYPE outbox_relay_leased_buckets gauge
outbox_relay_leased_buckets 32
# HELP outbox_relay_live_relays Relays whose heartbeat is current, this one included, at its last lease sync.
# TYPE outbox_relay_live_relays gauge
outbox_relay_live_relays 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "outbox_relay_events_total",
		"outbox_relay_failures_total", "outbox_relay_dead_letters_total", "outbox_relay_leased_buckets", "outbox_relay_live_relays"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m, "outbox_relay_commit_to_ack_seconds"); n != 1 {
		t.Fatalf("commit_to_ack histogram: %d series", n)
	}
	for name, want := range map[string]uint64{"outbox_relay_commit_to_ack_seconds": 3, "outbox_relay_batch_size_events": 1} {
		if got := metric(t, reg, name).GetHistogram().GetSampleCount(); got != want {
			t.Errorf("%s count = %d, want %d", name, got, want)
		}
	}
	for _, name := range []string{"outbox_relay_last_publish_timestamp_seconds", "outbox_relay_last_lease_sync_timestamp_seconds"} {
		if v := metric(t, reg, name).GetGauge().GetValue(); time.Since(time.Unix(int64(v), 0)) > time.Minute {
			t.Errorf("%s = %v, want about now", name, v)
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}

// metric is the first series of family name in g.
func metric(t *testing.T, g prometheus.Gatherer, name string) *dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0]
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

// value is the value of m's metric name (a gauge's or a counter's), gathered now.
func value(t *testing.T, m *outboxprom.Metrics, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	s := metric(t, reg, name)
	if c := s.GetCounter(); c != nil {
		return c.GetValue()
	}
	return s.GetGauge().GetValue()
}
