package relay_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// A cancelled relay finishes its batch in flight and hands its buckets over at once:
// nothing is lost, nothing sent twice, and the next relay needs no lease expiry.
func TestGracefulShutdown(t *testing.T) { testenv.EachDB(t, testGracefulShutdown) }

func testGracefulShutdown(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	for i := 0; i < 50; i++ {
		e.commit(t, keys(40)...)
	}
	// Relay A is cancelled from its own third batch: a stop that lands mid-backlog.
	var batches atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := relay.New(e.Store, publisher(t), &relay.Config{
		BatchSize: 100, LeaseTTL: time.Minute, Logger: quietLogger(),
		Hooks: relay.Hooks{Batch: func(relay.BatchStats) {
			if batches.Add(1) == 3 {
				cancel()
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	st := e.status(t)
	if st.InFlight != 0 || st.Pending == 0 || st.Pending == 2000 {
		t.Fatalf("after a graceful stop mid-backlog: %+v; want some sent, some pending, none in flight", st)
	}
	t.Logf("relay A stopped after %d batches, %d events pending", batches.Load(), st.Pending)

	var firstHeld atomic.Int32
	firstHeld.Store(-1)
	begin := time.Now()
	start(t, e.Store, publisher(t), relay.Config{
		LeaseTTL: time.Minute, // an expiry wait would show as a one-minute stall
		Hooks:    relay.Hooks{Leases: func(s relay.LeaseStats) { firstHeld.CompareAndSwap(-1, int32(s.Held)) }},
	})
	recs := testenv.Consume(t, e.topic, 2000, 60*time.Second)
	rep := testenv.Verify(e.ledger, recs)
	if rep.Received != 2000 || rep.Lost+rep.Duplicates+rep.OrderViolations > 0 {
		t.Fatalf("across a graceful handover: %v", rep)
	}
	if firstHeld.Load() != 64 {
		t.Fatalf("relay B's first lease sync got %d buckets; A should have released all 64", firstHeld.Load())
	}
	t.Logf("relay B drained the rest in %s", time.Since(begin).Round(time.Millisecond))
}

// A second relay takes half the buckets from the first within a few heartbeats, and the
// first takes them all back when the second leaves.
func TestLeasesRebalance(t *testing.T) { testenv.EachDB(t, testLeasesRebalance) }

func testLeasesRebalance(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	var heldA, heldB atomic.Int32
	cfg := func(held *atomic.Int32) relay.Config {
		return relay.Config{Hooks: relay.Hooks{Leases: func(s relay.LeaseStats) { held.Store(int32(s.Held)) }}}
	}
	start(t, e.Store, publisher(t), cfg(&heldA))
	waitFor(t, 10*time.Second, "A holds all 64", func() bool { return heldA.Load() == 64 })
	stopB := start(t, e.Store, publisher(t), cfg(&heldB))
	waitFor(t, 15*time.Second, "A and B hold 32 each", func() bool { return heldA.Load() == 32 && heldB.Load() == 32 })
	stopB()
	waitFor(t, 15*time.Second, "A holds all 64 again", func() bool { return heldA.Load() == 64 })
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting until %s", timeout, what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// With Retention, published events stay as 'published' and the relay purges them once
// they are older than Retention.
func TestRetentionKeepsThenPurges(t *testing.T) { testenv.EachDB(t, testRetention) }

func testRetention(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	e.commit(t, keys(20)...)
	// Retention is the window in which the test can see the events kept: under load (the
	// race detector, SQLite beside other packages' relays) 2 s was missed at times.
	start(t, e.Store, publisher(t), relay.Config{Retention: 5 * time.Second, PurgeInterval: 200 * time.Millisecond})
	waitFor(t, 20*time.Second, "20 events kept as published", func() bool {
		st := e.status(t)
		return st.Published == 20 && st.Pending == 0
	})
	if rep := testenv.Verify(e.ledger, testenv.Consume(t, e.topic, 20, 30*time.Second)); rep.Received != 20 || rep.Lost != 0 {
		t.Fatalf("retained events must still be sent: %v", rep)
	}
	waitFor(t, 20*time.Second, "published events purged after Retention", func() bool { return e.status(t).Published == 0 })
}
