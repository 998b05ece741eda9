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

// The relay's database connections are killed again and again while writers commit:
// batches in flight abort and are relayed again, nothing is lost, every key stays in
// order. (SQLite has no connections to kill.)
func TestRelayConnectionsKilled(t *testing.T) { testenv.EachDB(t, testConnectionsKilled, "sqlite") }

func testConnectionsKilled(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	store, kill := e.Killable(t)
	start(t, store, publisher(t), relay.Config{BatchSize: 20, Backoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})

	var killed atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			killed.Add(int64(kill()))
		}
	}()
	ks := keys(30)
	for i := 0; i < 40; i++ {
		e.commit(t, ks...)
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-done
	e.waitDrained(t, 60*time.Second)
	recs := testenv.ConsumeAll(t, e.topic, 1200, 2*time.Second, 60*time.Second)
	rep := testenv.Verify(e.ledger, recs)
	t.Logf("%d relay connections killed: %v", killed.Load(), rep)
	if killed.Load() == 0 {
		t.Fatal("no relay connection was killed: the fault was not injected")
	}
	if !rep.OK() {
		t.Fatalf("with its connections killed: %v", rep)
	}
}

// A writer transaction held open while later events commit and are published: its
// event is not skipped when it commits at last, and its key's next event follows it.
// (SQLite has one writer at a time: the later commits would wait for it.)
func TestLongTransactionNotSkipped(t *testing.T) { testenv.EachDB(t, testLongTransaction, "sqlite") }

func testLongTransaction(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	start(t, e.Store, publisher(t), relay.Config{})
	ctx := context.Background()
	m := outbox.Message{Topic: e.topic, Key: []byte("slow"), Payload: e.ledger.Add("slow")}
	commit, err := e.Hold(ctx, m) // its seq is taken now, below all that follow
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		e.commit(t, keys(20)...)
	}
	testenv.Consume(t, e.topic, 200, 30*time.Second) // the later events are out
	time.Sleep(500 * time.Millisecond)
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	e.commit(t, "slow")
	recs := testenv.ConsumeAll(t, e.topic, 202, time.Second, 30*time.Second)
	if rep := testenv.Verify(e.ledger, recs); rep.Received != 202 || !rep.OK() {
		t.Fatalf("after the long transaction committed: %v", rep)
	}
}
