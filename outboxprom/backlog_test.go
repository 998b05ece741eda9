package outboxprom_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/outboxprom"
	"github.com/firstunicorn/outbox/outboxstore"
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
