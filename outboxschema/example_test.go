package outboxschema_test

import (
	"context"
	"log"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/avro"
	"github.com/firstunicorn/outbox/outboxstore"
)

// An order and its Avro-encoded event in one transaction; an event its schema refuses
// rolls the order back. On the other side, an inbox handler gets the decoded event.
func Example() {
	ctx := context.Background()
	reg, err := sr.NewClient(sr.URLs("http://localhost:8081"))
	if err != nil {
		log.Fatal(err)
	}
	codec, err := avro.Codec[orderPlaced](orderAvro) // the schema registered under "orders-value"
	if err != nil {
		log.Fatal(err)
	}
	serde, err := outboxschema.New(reg, nil, codec)
	if err != nil {
		log.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, "postgres://app@localhost:5432/shop")
	if err != nil {
		log.Fatal(err)
	}
	store, err := outboxstore.New(outboxpgx.New(pool), nil)
	if err != nil {
		log.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO orders (id, total) VALUES ($1, $2)`, "o-42", 1999); err != nil {
			return err
		}
		msg, err := serde.NewMessage(ctx, "orders", orderPlaced{ID: "o-42", Total: 1999, Currency: "EUR"})
		if err != nil {
			return err // the order rolls back with it
		}
		return store.Write(ctx, tx, msg)
	})
	if err != nil {
		log.Fatal(err)
	}

	// The consumer's side.
	handler := outboxschema.Handler(serde, func(ctx context.Context, tx pgx.Tx, m *inbox.Message, o orderPlaced) error {
		_, err := tx.Exec(ctx, `UPDATE stock SET reserved = reserved + 1 WHERE order_id = $1`, o.ID)
		return err
	})
	in, err := inbox.New(outboxpgx.New(pool), nil)
	if err != nil {
		log.Fatal(err)
	}
	client, err := kgo.NewClient(kgo.SeedBrokers("localhost:9092"))
	if err != nil {
		log.Fatal(err)
	}
	c, err := inbox.NewConsumer(in, handler, client, &inbox.ConsumerConfig{Group: "stock", Topics: []string{"orders"}})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
