package main

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/firstunicorn/outbox/relay"
)

// metrics counts what the relay's hooks report and serves it in the Prometheus text
// format: a handful of counters needs no client library.
type metrics struct {
	batches, claimed, published, failed, dead, skipped atomic.Int64
	batchNanos                                         atomic.Int64
	leases                                             atomic.Int64
}

func (m *metrics) hooks() relay.Hooks {
	return relay.Hooks{
		Batch: func(s relay.BatchStats) {
			m.batches.Add(1)
			m.claimed.Add(int64(s.Claimed))
			m.published.Add(int64(s.Published))
			m.failed.Add(int64(s.Failed))
			m.dead.Add(int64(s.Dead))
			m.skipped.Add(int64(s.Skipped))
			m.batchNanos.Add(int64(s.Duration))
		},
		Leases: func(n int) { m.leases.Store(int64(n)) },
	}
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	for _, c := range []struct {
		name, kind, help string
		v                float64
	}{
		{"outbox_relay_batches_total", "counter", "Non-empty batches relayed.", float64(m.batches.Load())},
		{"outbox_relay_claimed_total", "counter", "Events claimed.", float64(m.claimed.Load())},
		{"outbox_relay_published_total", "counter", "Events acknowledged by Kafka.", float64(m.published.Load())},
		{"outbox_relay_failed_total", "counter", "Failed publish attempts.", float64(m.failed.Load())},
		{"outbox_relay_dead_total", "counter", "Events moved to the dead-letter state.", float64(m.dead.Load())},
		{"outbox_relay_skipped_total", "counter", "Events held back behind a failed event of their key.", float64(m.skipped.Load())},
		{"outbox_relay_batch_seconds_total", "counter", "Time spent relaying batches.", float64(m.batchNanos.Load()) / 1e9},
		{"outbox_relay_leased_buckets", "gauge", "Key buckets this relay holds.", float64(m.leases.Load())},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %g\n", c.name, c.help, c.name, c.kind, c.name, c.v)
	}
}
