package outboxprom

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firstunicorn/outbox/outboxstore"
)

// The defaults of SampleBacklog, declared once for it and for the outbox command's flags.
const (
	DefaultBacklogInterval = 5 * time.Second
	DefaultBacklogLimit    = 100_000
)

// BacklogSource is what SampleBacklog reads: an *outboxstore.Admin, Store.Admin().
type BacklogSource interface {
	Backlog(ctx context.Context, limit int64) (outboxstore.Backlog, error)
}

// backlog are the gauges of the outbox's backlog.
type backlog struct {
	pending, inFlight, dead, oldest prometheus.Gauge
	errors                          prometheus.Counter
}

func newBacklog(ns string) backlog {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "backlog", Name: name, Help: help})
	}
	return backlog{
		pending:  g("pending_events", "Pending events, not in flight, as last sampled; counts stop at the sampling limit (100,000 by default)."),
		inFlight: g("in_flight_events", "Events of the batches being published, as last sampled (PostgreSQL only; elsewhere they count as pending)."),
		dead:     g("dead_events", "Dead-lettered events, as last sampled; counts stop at the sampling limit."),
		oldest:   g("oldest_pending_age_seconds", "Age of the oldest pending event, as last sampled; 0 when none is pending."),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "backlog", Name: "sample_errors_total",
			Help: "Backlog samples that failed (the database did not answer)."}),
	}
}

func (b backlog) collectors() []prometheus.Collector {
	return []prometheus.Collector{b.pending, b.inFlight, b.dead, b.oldest, b.errors}
}

// SampleBacklog sets the backlog gauges from src now and every interval until ctx ends
// (zero interval and limit take the defaults), and, for a store in WAL mode, the
// replication slot's gauges. Each sample's counts read at most limit
// index entries, so its cost stays bounded on a large table. A failed sample is counted
// and logged, and the gauges keep their last values.
func (m *Metrics) SampleBacklog(ctx context.Context, src BacklogSource, interval time.Duration, limit int64, log *slog.Logger) {
	if interval <= 0 {
		interval = DefaultBacklogInterval
	}
	if limit <= 0 {
		limit = DefaultBacklogLimit
	}
	m.every(ctx, interval, "sampling the backlog", log, func(sctx context.Context) error {
		b, err := src.Backlog(sctx, limit)
		if err == nil {
			err = m.slot.sample(sctx, src)
		}
		if err != nil {
			return err
		}
		m.backlog.pending.Set(float64(b.Pending))
		m.backlog.inFlight.Set(float64(b.InFlight))
		m.backlog.dead.Set(float64(b.Dead))
		m.backlog.oldest.Set(b.OldestPendingAge.Seconds())
		return nil
	})
}

// every runs sample now and every interval until ctx ends, each under a deadline of
// one interval; a failed sample is counted with the backlog's errors and logged as what.
func (m *Metrics) every(ctx context.Context, interval time.Duration, what string, log *slog.Logger, sample func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, interval)
		err := sample(sctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			m.backlog.errors.Inc()
			log.Warn(what, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
