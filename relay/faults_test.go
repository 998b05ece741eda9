package relay_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/testenv"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/relay"
)

// The relay's database connections are killed (pg_terminate_backend) again and again
// while writers commit: batches in flight abort and are relayed again, nothing is lost,
// every key stays in order.
func TestRelayConnectionsKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, outbox.Limits{})
	name := testenv.Name("relay_under_test")
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = name
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store, err := outboxpgx.NewStore(pool, &outboxpgx.Config{Schema: e.store.Names().Schema})
	if err != nil {
		t.Fatal(err)
	}
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
			// The relay's connections carry its pool's name, or an open batch's.
			var n int64
			_ = e.pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = $1 OR starts_with(application_name, $2)`, name, store.Names().Channel()+":").Scan(&n)
			killed.Add(n)
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
func TestLongTransactionNotSkipped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, outbox.Limits{})
	start(t, e.store, publisher(t), relay.Config{})
	ctx := context.Background()
	slow, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Rollback(ctx) }()
	m := outbox.Message{Topic: e.topic, Key: []byte("slow"), Payload: e.ledger.Add("slow")}
	if err := e.writer.Write(ctx, slow, m); err != nil { // its seq is taken now, below all that follow
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		e.commit(t, keys(20)...)
	}
	testenv.Consume(t, e.topic, 200, 30*time.Second) // the later events are out
	time.Sleep(500 * time.Millisecond)
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e.commit(t, "slow")
	recs := testenv.ConsumeAll(t, e.topic, 202, time.Second, 30*time.Second)
	if rep := testenv.Verify(e.ledger, recs); rep.Received != 202 || !rep.OK() {
		t.Fatalf("after the long transaction committed: %v", rep)
	}
}
