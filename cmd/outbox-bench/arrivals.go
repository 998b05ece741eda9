package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/testkit/ledger"
)

// arrivals matches records to the commit times the writers noted, by event id. A record
// can arrive before its writer has noted the commit (the relay may publish it before the
// commit's reply reaches the writer): it then counts as 0.
type arrivals struct {
	mu        sync.Mutex
	committed map[string]time.Time
	early     map[string]bool
	samples   []time.Duration
	// handed is, per sample, commit → the relay's Produce call (the record's timestamp,
	// set by franz-go): the outbox's part of the latency; the rest is Kafka's.
	handed []time.Duration
}

func (a *arrivals) commit(id uuid.UUID) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.early[id.String()] {
		delete(a.early, id.String())
		a.samples = append(a.samples, 0)
		return
	}
	a.committed[id.String()] = now
}

func (a *arrivals) arrive(r *kgo.Record, now time.Time) {
	for _, h := range r.Headers {
		if h.Key != outbox.HeaderEventID && h.Key != "ce_id" { // ce_id: a CloudEvent in binary mode
			continue
		}
		a.mu.Lock()
		if t, ok := a.committed[string(h.Value)]; ok {
			a.samples = append(a.samples, now.Sub(t))
			a.handed = append(a.handed, max(0, r.Timestamp.Sub(t)))
			delete(a.committed, string(h.Value))
		} else {
			a.early[string(h.Value)] = true
		}
		a.mu.Unlock()
	}
}

// phase returns and resets the samples, and how many commits have not arrived.
func (a *arrivals) phase() (samples, handed []time.Duration, missing int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, h := a.samples, a.handed
	a.samples, a.handed = nil, nil
	return s, h, len(a.committed)
}

// pending is how many commits have not arrived yet.
func (a *arrivals) pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.committed)
}

// caughtUp waits, up to a minute, until every commit noted in arr has arrived, and
// returns how long that took and the phase's samples (arrivals.phase).
func (e *env) caughtUp(ctx context.Context, arr *arrivals, topic string, ledgers []ledger.Ledger, relayOut *output) (
	wait time.Duration, samples, handed []time.Duration, err error,
) {
	start := time.Now()
	for arr.pending() > 0 && time.Since(start) < time.Minute {
		time.Sleep(10 * time.Millisecond)
	}
	wait = time.Since(start)
	samples, handed, missing := arr.phase()
	if missing > 0 {
		st, _ := e.db.Admin.Status(ctx)
		vr, verr := e.verify(ctx, topic, mergeLedgers(ledgers))
		return wait, nil, nil, fmt.Errorf("%d committed events had not reached the consumer a minute later; "+
			"the outbox holds %d pending and %d in flight; a fresh read of the topic: %v (%v); relay output:\n%s",
			missing, st.Pending, st.InFlight, vr, verr, relayOut.String())
	}
	return wait, samples, handed, nil
}

// arrivals starts a consumer of topic that notes each record's arrival, until stop;
// it counts the record batches it reads in batches, when given.
func (e *env) arrivals(ctx context.Context, topic string, hooks ...kgo.Hook) (arr *arrivals, stop func(), err error) {
	isolation := kgo.ReadUncommitted()
	if e.readCommitted {
		isolation = kgo.ReadCommitted()
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchIsolationLevel(isolation), kgo.WithHooks(hooks...))
	if err != nil {
		return nil, nil, err
	}
	arr = &arrivals{committed: map[string]time.Time{}, early: map[string]bool{}}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for cctx.Err() == nil {
			fs := consumer.PollFetches(cctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) { arr.arrive(r, now) })
		}
	}()
	return arr, func() { cancel(); <-done; consumer.Close() }, nil
}

// newLedgers are n empty ledgers, one per paced writer.
func newLedgers(n int) []ledger.Ledger {
	ls := make([]ledger.Ledger, n)
	for i := range ls {
		ls[i] = ledger.Ledger{}
	}
	return ls
}
