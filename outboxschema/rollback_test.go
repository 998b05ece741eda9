package outboxschema_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/avro"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// The pattern of the docs, on PostgreSQL over pgx: the business row and its event in
// one transaction, the event encoded before Write. An event its schema refuses rolls
// the business row back with it; one that fits commits both.
func TestRefusedEventRollsBackTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Pool(t)
	schema := testenv.Schema(t, pool)
	store := must(outboxstore.New(outboxpgx.New(pool), &outboxstore.Config{Schema: schema}))
	if _, err := store.Admin().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE `+schema+`.orders (id text PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	serde := must(outboxschema.New(testenv.Registry(t), &outboxschema.Config{AutoRegister: true}, must(avro.Codec[orderPlaced](orderAvro))))
	topic := testenv.Name("orders")
	place := func(o orderPlaced) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO `+schema+`.orders (id) VALUES ($1)`, o.ID); err != nil {
				return err
			}
			msg, err := serde.NewMessage(ctx, topic, o)
			if err != nil {
				return err
			}
			return store.Write(ctx, tx, msg)
		})
	}
	count := func(q string) (n int) {
		if err := pool.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	bad := order(1)
	bad.Currency = "XYZ"
	if err := place(bad); !errors.Is(err, outboxschema.ErrSchema) {
		t.Fatalf("an order whose event its schema refuses: %v; want ErrSchema", err)
	}
	if err := place(order(2)); err != nil {
		t.Fatal(err)
	}
	orders, events := count(`SELECT count(*) FROM `+schema+`.orders`), count(`SELECT count(*) FROM `+store.Admin().Table())
	if orders != 1 || events != 1 {
		t.Fatalf("%d orders and %d events; want the good order and its event alone", orders, events)
	}
}
