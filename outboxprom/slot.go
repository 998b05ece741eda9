package outboxprom

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firstunicorn/outbox/outboxstore"
)

// slotSource is a store that may be in WAL mode: an *outboxstore.Admin.
type slotSource interface {
	Mode() outboxstore.Mode
	Slot(ctx context.Context) (outboxstore.Slot, error)
}

// slot are the gauges of WAL mode's replication slot. They are vectors by slot name,
// so a table-mode relay exports none of them.
type slot struct {
	lag, lagTime, safe, active, status *prometheus.GaugeVec
	failover, failoverReady, synced    *prometheus.GaugeVec
}

func newSlot(ns string) slot {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: "wal_slot", Name: name, Help: help},
			append([]string{"slot"}, labels...))
	}
	return slot{
		lag:     g("lag_bytes", "WAL mode: WAL the replication slot holds past what the relay confirmed, as last sampled."),
		lagTime: g("lag_seconds", "WAL mode: how far behind the slot's reader is (PostgreSQL's flush lag), or with none the age of the oldest transaction the slot holds."),
		safe:    g("safe_wal_bytes", "WAL mode: WAL that may still be written before the slot is invalidated; -1 when max_slot_wal_keep_size is unlimited."),
		active:  g("active", "WAL mode: 1 while a relay reads the slot."),
		status:  g("status", "WAL mode: 1 for the slot's wal_status (reserved, extended, unreserved, lost, or missing), 0 for the others.", "status"),
		failover: g("failover", "WAL mode on PostgreSQL 17 and later: 1 when the slot is a failover slot, which standbys "+
			"with sync_replication_slots = on copy. Absent before 17."),
		failoverReady: g("failover_ready", "WAL mode on PostgreSQL 17 and later: 1 when, as far as the primary can tell, a "+
			"failover would cost the slot nothing (a failover slot, and synchronized_standby_slots set, so the relay never "+
			"gets a transaction the standbys lack). Absent before 17. Whether a standby synced it: outbox_wal_slot_synced."),
		synced: g("synced", "WAL mode, sampled from a standby (SampleStandbySlot; the relay's --standby-url): 1 when the "+
			"standby has a synced copy of the slot that its promotion would keep, else 0."),
	}
}

func (s slot) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.lag, s.lagTime, s.safe, s.active, s.status, s.failover, s.failoverReady, s.synced}
}

// sample sets the slot's gauges when src is a store in WAL mode.
func (s slot) sample(ctx context.Context, src any) error {
	ss, ok := src.(slotSource)
	if !ok || ss.Mode() != outboxstore.WALMode {
		return nil
	}
	sl, err := ss.Slot(ctx)
	if err != nil {
		return err
	}
	s.lag.WithLabelValues(sl.Name).Set(float64(sl.LagBytes))
	s.lagTime.WithLabelValues(sl.Name).Set(sl.Lag.Seconds())
	s.safe.WithLabelValues(sl.Name).Set(float64(sl.SafeWALBytes))
	s.active.WithLabelValues(sl.Name).Set(b2f(sl.Active))
	current := sl.WALStatus
	if current == "" {
		current = "missing"
	}
	for _, st := range []string{"reserved", "extended", "unreserved", "lost", "missing"} {
		s.status.WithLabelValues(sl.Name, st).Set(b2f(st == current))
	}
	if sl.ServerVersion >= 170000 {
		s.failover.WithLabelValues(sl.Name).Set(b2f(sl.Failover))
		s.failoverReady.WithLabelValues(sl.Name).Set(b2f(sl.FailoverRisk() == ""))
	}
	return nil
}

// SampleStandbySlot sets outbox_wal_slot_synced from standby, a store over a standby
// of the outbox's primary (in WAL mode, same Config), now and every interval until ctx
// ends. A failed sample is logged and counted with the backlog's.
func (m *Metrics) SampleStandbySlot(ctx context.Context, standby interface {
	Slot(ctx context.Context) (outboxstore.Slot, error)
}, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		interval = DefaultBacklogInterval
	}
	m.every(ctx, interval, "sampling the standby's slot", log, func(sctx context.Context) error {
		sl, err := standby.Slot(sctx)
		if err == nil {
			m.slot.synced.WithLabelValues(sl.Name).Set(b2f(sl.Standby && sl.Synced))
		}
		return err
	})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
