package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// TestRebalance runs two consumers of one group mid-stream: B joins while A works, then
// A leaves, while events keep coming. Every event is applied once, in order per key, across both rebalances.
func TestRebalance(t *testing.T) {
	t.Parallel()
	h := newPGX(t)
	topic := testenv.Topic(t, 8, nil)
	var oa, ob outcomes
	cfgA := config(topic, &oa)
	cfgB := config(topic, &ob)
	cfgB.Group = cfgA.Group
	slow := func(ctx context.Context, x exec, m *inbox.Message) error {
		time.Sleep(time.Millisecond) // so the stream is still going at each rebalance
		return apply(ctx, x, m)
	}
	var recs []*kgo.Record
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for batch := 0; ; batch++ {
			select {
			case <-done:
				return
			default:
			}
			var b []*kgo.Record
			for i := range 50 {
				seq := batch*50 + i + 1
				b = append(b, event(topic, fmt.Sprintf("k%d", seq%23), seq))
			}
			produce(t, b...)
			recs = append(recs, b...)
			time.Sleep(50 * time.Millisecond)
		}
	})
	stopA := start(t, h.consumer(t, slow, cfgA))
	time.Sleep(time.Second)
	start(t, h.consumer(t, slow, cfgB))
	waitFor(t, 30*time.Second, "B to handle events", func() bool { return ob.get(inbox.Handled) > 0 })
	stopA()
	time.Sleep(time.Second)
	close(done)
	wg.Wait()
	waitFor(t, 60*time.Second, "every event applied", func() bool { return oa.get(inbox.Handled)+ob.get(inbox.Handled) == len(recs) })
	checkOnce(t, h.applied(t), recs)
	t.Logf("A handled %d, B %d; duplicates %d", oa.get(inbox.Handled), ob.get(inbox.Handled), oa.get(inbox.Duplicate)+ob.get(inbox.Duplicate))
}

// TestHandlerEmits writes an outbox event in the handler's transaction: consume →
// change → emit is one step. A failed first attempt, which had emitted too, leaves no
// event behind.
func TestHandlerEmits(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	h := newPGX(t)
	ob := must(outboxstore.New(outboxpgx.New(pool), &outboxstore.Config{Schema: h.schema}))
	if _, err := ob.Admin().Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	topic := testenv.Topic(t, 2, nil)
	var recs []*kgo.Record
	for i := 1; i <= 50; i++ {
		recs = append(recs, event(topic, fmt.Sprintf("order-%d", i%5), i))
	}
	produce(t, recs...)
	var o outcomes
	c := must(inbox.NewConsumer(must(inbox.New(outboxpgx.New(pool), &inbox.Config{Schema: h.schema})),
		func(ctx context.Context, tx pgx.Tx, m *inbox.Message) error {
			if _, err := tx.Exec(ctx, `INSERT INTO `+h.schema+`.applied (event_id, k, seq) VALUES ($1, $2, 0)`, m.ID, string(m.Key)); err != nil {
				return err
			}
			if err := ob.Write(ctx, tx, outbox.Message{Topic: "stock", Key: m.Key, Type: "stock.reserved", Payload: m.Value}); err != nil {
				return err
			}
			if m.Attempt == 1 {
				return errors.New("first attempt fails after emitting")
			}
			return nil
		}, testenv.Client(t), config(topic, &o)))
	start(t, c)
	waitFor(t, 60*time.Second, "50 handled", func() bool { return o.get(inbox.Handled) == 50 })
	if n := h.query(t, `SELECT count(*) FROM `+h.schema+`.outbox`); n != 50 {
		t.Errorf("%d events in the outbox, want 50: one per handled event", n)
	}
	if n := h.query(t, `SELECT count(*) FROM applied`); n != 50 {
		t.Errorf("%d applied, want 50", n)
	}
}

// TestHandlerEndsTx: a handler that commits its transaction itself has its event
// recorded with it (the retry finds a duplicate); one that rolls back is retried and
// dead-lettered with an error that says what to do.
func TestHandlerEndsTx(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	h := newPGX(t)
	topic := testenv.Topic(t, 1, nil)
	produce(t, event(topic, "commit", 1), event(topic, "rollback", 2))
	var o outcomes
	cfg := config(topic, &o)
	store := must(inbox.New(outboxpgx.New(pool), &inbox.Config{Schema: h.schema}))
	c := must(inbox.NewConsumer(store, func(ctx context.Context, tx pgx.Tx, m *inbox.Message) error {
		if _, err := tx.Exec(ctx, `INSERT INTO `+h.schema+`.applied (event_id, k, seq) VALUES ($1, $2, 0)`, m.ID, string(m.Key)); err != nil {
			return err
		}
		if string(m.Key) == "commit" {
			return tx.Commit(ctx)
		}
		return tx.Rollback(ctx)
	}, testenv.Client(t), cfg))
	start(t, c)
	waitFor(t, 30*time.Second, "one duplicate and one dead", func() bool { return o.get(inbox.Duplicate) == 1 && o.get(inbox.Dead) == 1 })
	dead, err := store.Admin().Dead(context.Background(), cfg.Group, 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead: %v, %v", dead, err)
	}
	if string(dead[0].Key) != "rollback" || dead[0].Error != "handler: "+"the handler committed or rolled back the transaction itself: return instead, and the inbox commits" {
		t.Errorf("dead %s: %q", dead[0].Key, dead[0].Error)
	}
	if n := h.query(t, `SELECT count(*) FROM applied`); n != 1 {
		t.Errorf("%d applied, want 1 (the committed one)", n)
	}
}
