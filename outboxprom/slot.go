package outboxprom

import (
	"context"

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
	}
}

func (s slot) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.lag, s.lagTime, s.safe, s.active, s.status}
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
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
