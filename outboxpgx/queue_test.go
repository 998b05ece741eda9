package outboxpgx_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// Queued events ride in the caller's batch: the domain change and its events are one
// round trip, stored together when the transaction commits and gone when it rolls
// back; the outbox's database error comes out of the batch's results, named.
func TestQueue(t *testing.T) {
	t.Parallel()
	pool, s := newOutbox(t)
	ctx := context.Background()
	schema := strings.Trim(strings.Split(s.Admin().Table(), ".")[0], `"`)
	if _, err := pool.Exec(ctx, `CREATE TABLE `+schema+`.orders (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	order := func(id int, fail bool) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO `+schema+`.orders (id) VALUES ($1)`, id)
			msg := outbox.Message{Topic: "orders", Key: []byte("o"), Type: "order.placed", Payload: []byte(`{}`)}
			if err := outboxpgx.Queue(ctx, s, b, msg, msg); err != nil {
				return err
			}
			if n := b.Len(); n != 2 {
				t.Errorf("batch of %d statements, want 2: the order and one for both events", n)
			}
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
			if fail {
				return errors.New("the domain change failed")
			}
			return nil
		})
	}
	if err := order(1, false); err != nil {
		t.Fatal(err)
	}
	if err := order(2, true); err == nil {
		t.Fatal("the failing change committed")
	}
	if st, err := s.Admin().Status(ctx); err != nil || st.Pending != 2 {
		t.Fatalf("after one commit and one rollback: %+v, %v; want 2 pending", st, err)
	}
	// The outbox's statement fails in the batch, and its error says so.
	if _, err := pool.Exec(ctx, `ALTER TABLE `+s.Admin().Table()+` ADD CONSTRAINT no_orders CHECK (topic <> 'orders') NOT VALID`); err != nil {
		t.Fatal(err)
	}
	if err := order(3, false); err == nil || !strings.Contains(err.Error(), "outbox: write 2 messages") {
		t.Fatalf("a refused write: %v, want it named", err)
	}
}

// An invalid message is Queue's own error, with the batch untouched.
func TestQueueRefusesInvalid(t *testing.T) {
	t.Parallel()
	_, s := newOutbox(t)
	b := &pgx.Batch{}
	err := outboxpgx.Queue(context.Background(), s, b, outbox.Message{Topic: "ok"}, outbox.Message{Topic: ""})
	if !errors.Is(err, outbox.ErrInvalidMessage) || !strings.Contains(err.Error(), "message 1") || b.Len() != 0 {
		t.Fatalf("invalid message: %v, batch of %d", err, b.Len())
	}
	if err := outboxpgx.Queue(context.Background(), s, nil, outbox.Message{Topic: "t"}); !errors.Is(err, outbox.ErrNoDB) {
		t.Fatalf("nil batch: %v", err)
	}
	if err := outboxpgx.Queue(context.Background(), nil, b, outbox.Message{Topic: "t"}); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Fatalf("nil store: %v", err)
	}
}

// In WAL mode the queued statement emits the events into the caller's transaction: the
// stream gives them once it commits, with BEGIN riding in the same batch.
func TestQueueWAL(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	name := "queue_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	s, err := outboxstore.New(outboxpgx.New(pool), &outboxstore.Config{Schema: testenv.Schema(t, pool), Mode: outboxstore.WALMode, Slot: name, Publication: name})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, err := pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, name); err == nil {
				break
			}
		}
		_, _ = pool.Exec(ctx, `DROP PUBLICATION IF EXISTS `+name)
	})
	if _, err := s.Admin().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	if err := outboxpgx.Queue(ctx, s, b, outbox.Message{ID: id, Topic: "orders", Key: []byte("k")}); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	br := conn.SendBatch(ctx, b)
	tx := br.Tx()
	defer func() { _ = tx.Rollback(ctx) }()
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	o, err := s.RelaySource()
	if err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rd, err := o.Stream.Attach(actx, "queue-test")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var recs []source.Record
	for len(recs) == 0 && err == nil { // Next also returns with only a position to confirm
		recs, _, err = rd.Next(actx, 10)
	}
	if err != nil || len(recs) != 1 || recs[0].Message.ID != id {
		t.Fatalf("stream: %d records, %v; want the queued event %s", len(recs), err, id)
	}
}
