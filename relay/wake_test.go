package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// An idle relay (past the watcher's quiet period, listening) publishes a new event
// within milliseconds, though it polls only every 10s: the insert trigger's NOTIFY woke it.
func TestIdleRelayWokenByNotify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "postgres", outbox.Limits{})
	start(t, e.Store, publisher(t), relay.Config{PollInterval: 10 * time.Second})
	ctx := context.Background()
	consumer := testenv.Client(t, kgoConsume(e.topic)...)
	var worst time.Duration
	for i := 0; i < 5; i++ {
		time.Sleep(600 * time.Millisecond) // quiet long enough to be listening, not polling
		key := "idle"
		m := outbox.Message{Topic: e.topic, Key: []byte(key), Payload: e.ledger.Add(key)}
		if err := e.Write(ctx, m); err != nil {
			t.Fatal(err)
		}
		committed := time.Now()
		// The record's timestamp is when the relay produced it: a consumer's own first
		// fetch of a new topic may wait for a metadata refresh (seen: 4.4 s), which says
		// nothing about the relay.
		rec := waitRecord(t, consumer, m.Payload, 15*time.Second)
		worst = max(worst, rec.Timestamp.Sub(committed))
	}
	t.Logf("idle relay, 5 single events: slowest commit→produce %s", worst.Round(time.Millisecond))
	if worst > time.Second {
		t.Fatalf("an idle relay took %s to publish; notifications are not waking it (PollInterval is 10s)", worst)
	}
}

// A store that cannot listen (database/sql) is relayed by polling: every event arrives,
// and a store without a listener says so.
func TestRelayOverDatabaseSQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "postgres", outbox.Limits{})
	store := e.SQL(t)
	if l, err := testenv.Table(t, store).(source.Notifier).Listen(context.Background(), "x"); l != nil || err != nil {
		t.Fatalf("a database/sql store offers a listener (%v, %v) it cannot serve", l, err)
	}
	for i := 0; i < 10; i++ {
		e.commit(t, keys(30)...)
	}
	start(t, store, publisher(t), relay.Config{PollInterval: 20 * time.Millisecond})
	recs := testenv.ConsumeAll(t, e.topic, 300, time.Second, 30*time.Second)
	if rep := testenv.Verify(e.ledger, recs); rep.Received != 300 || !rep.OK() || rep.Duplicates != 0 {
		t.Fatalf("relay over database/sql: %v", rep)
	}
}
