package outboxprom_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxprom"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// source answers SampleBacklog with its samples in turn, then fails.
type source struct {
	mu      sync.Mutex
	samples []outboxstore.Backlog
	limits  []int64
}

func (s *source) Backlog(_ context.Context, limit int64) (outboxstore.Backlog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = append(s.limits, limit)
	if len(s.samples) == 0 {
		return outboxstore.Backlog{}, errors.New("database down")
	}
	b := s.samples[0]
	s.samples = s.samples[1:]
	return b, nil
}

// SampleBacklog sets the gauges from each sample, keeps them when a sample fails,
// counts the failure, and returns when its context ends.
func TestSampleBacklog(t *testing.T) {
	m := outboxprom.New()
	src := &source{samples: []outboxstore.Backlog{{Pending: 7, InFlight: 2, Dead: 1, OldestPendingAge: 1500 * time.Millisecond}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.SampleBacklog(ctx, src, 10*time.Millisecond, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	for deadline := time.Now().Add(5 * time.Second); value(t, m, "outbox_backlog_sample_errors_total") < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no failed samples counted")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("SampleBacklog did not return after its context ended")
	}
	want := map[string]float64{"outbox_backlog_pending_events": 7, "outbox_backlog_in_flight_events": 2,
		"outbox_backlog_dead_events": 1, "outbox_backlog_oldest_pending_age_seconds": 1.5}
	for name, v := range want {
		if got := value(t, m, name); got != v {
			t.Errorf("%s = %v, want %v (kept from the last good sample)", name, got, v)
		}
	}
	if src.limits[0] != outboxprom.DefaultBacklogLimit {
		t.Errorf("limit %d, want the default %d", src.limits[0], outboxprom.DefaultBacklogLimit)
	}
}

// In WAL mode the sampler also reads the replication slot, on the real PostgreSQL: with
// events written and no relay reading, the slot is reserved, idle and lagging.
func TestSampleSlot(t *testing.T) {
	o := testenv.NewWALOutbox(t, outbox.Limits{})
	msgs := make([]outbox.Message, 100)
	for i := range msgs {
		msgs[i] = outbox.Message{Topic: "t", Payload: make([]byte, 1024)}
	}
	if err := o.Write(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // an age to see
	m := outboxprom.New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.SampleBacklog(ctx, o.Store.Admin(), time.Hour, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if mfs, _ := reg.Gather(); len(byName(mfs)["outbox_wal_slot_status"]) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no slot gauges after 10 s")
		}
	}
	cancel()
	<-done
	mfs, _ := reg.Gather()
	got := byName(mfs)
	if lag := got["outbox_wal_slot_lag_bytes"]; len(lag) != 1 || lag[0].GetGauge().GetValue() < 100*1024 {
		t.Errorf("lag: %v, want at least the 100 KiB written", lag)
	}
	if age := got["outbox_wal_slot_lag_seconds"]; len(age) != 1 || age[0].GetGauge().GetValue() < 0.2 || age[0].GetGauge().GetValue() > 60 {
		t.Errorf("lag in time: %v, want the age of the events written 0.2 s before", age)
	}
	if active := got["outbox_wal_slot_active"]; len(active) != 1 || active[0].GetGauge().GetValue() != 0 {
		t.Errorf("active: %v, want 0 with no relay", active)
	}
	for _, s := range got["outbox_wal_slot_status"] {
		want := 0.0
		for _, l := range s.GetLabel() {
			if l.GetName() == "status" && l.GetValue() == "reserved" {
				want = 1
			}
		}
		if s.GetGauge().GetValue() != want {
			t.Errorf("status %v = %v, want %v", s.GetLabel(), s.GetGauge().GetValue(), want)
		}
	}

	// A store in table mode exports no slot series at all.
	table := outboxprom.New()
	tctx, tcancel := context.WithCancel(context.Background())
	tcancel()
	table.SampleBacklog(tctx, &source{samples: []outboxstore.Backlog{{}}}, time.Hour, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	treg := prometheus.NewRegistry()
	treg.MustRegister(table)
	if mfs, _ := treg.Gather(); len(byName(mfs)["outbox_wal_slot_lag_bytes"]) != 0 {
		t.Error("a table-mode store exported slot gauges")
	}
}

func byName(mfs []*dto.MetricFamily) map[string][]*dto.Metric {
	out := map[string][]*dto.Metric{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetMetric()
	}
	return out
}
