package relay_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
)

// A relay embedded in a service: it publishes until the service is told to stop, then
// finishes its batch and hands its buckets to the other relays.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()

	pool, err := pgxpool.New(ctx, "postgres://app@db:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := outboxstore.New(outboxpgx.New(pool), nil)
	if err != nil {
		log.Fatal(err)
	}
	client, err := kgo.NewClient(append(outboxkafka.ProducerOpts(), kgo.SeedBrokers("kafka:9092"))...)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	pub, err := outboxkafka.New(client, nil)
	if err != nil {
		log.Fatal(err)
	}
	r, err := relay.New(store, pub, &relay.Config{BatchSize: 1000})
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// An exactly-once relay: Kafka transactions fenced per key bucket, so consumers that
// read with isolation level read_committed see each event once.
func Example_exactlyOnce() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()

	pool, err := pgxpool.New(ctx, "postgres://app@db:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := outboxstore.New(outboxpgx.New(pool), nil)
	if err != nil {
		log.Fatal(err)
	}
	// The ID names this outbox in Kafka: its transactional ids and progress records.
	pub, err := outboxkafka.NewExactlyOnce([]kgo.Opt{kgo.SeedBrokers("kafka:9092")},
		&outboxkafka.ExactlyOnceConfig{ID: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	r, err := relay.New(store, pub, &relay.Config{ExactlyOnce: true})
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
