package inbox_test

import (
	"context"
	"log"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxpgx"
)

// A consumer that reserves stock once per order.placed event, however often Kafka
// delivers it.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://app@localhost:5432/inventory")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := inbox.New(outboxpgx.New(pool), nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := store.Admin().Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	// The brokers, TLS and SASL are the client's; the consumer group's options, the inbox's.
	client, err := kgo.NewClient(kgo.SeedBrokers("localhost:9092"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	c, err := inbox.NewConsumer(store, func(ctx context.Context, tx pgx.Tx, m *inbox.Message) error {
		// Runs in the transaction that records m.ID: commit both, or neither.
		_, err := tx.Exec(ctx, `UPDATE stock SET reserved = reserved + 1 WHERE sku = $1`, m.Key)
		return err
	}, client, &inbox.ConsumerConfig{Group: "inventory", Topics: []string{"orders"}})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil { // until ctx ends
		log.Fatal(err)
	}
}
