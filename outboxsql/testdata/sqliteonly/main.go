// A service on SQLite: its outbox, a relay in-process, and an inbox. The dependency test
// checks what it links.
package main

import (
	"context"
	"database/sql"
	"log"

	"github.com/twmb/franz-go/pkg/kgo"
	_ "modernc.org/sqlite"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxprom"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/outboxtest"
	"github.com/firstunicorn/outbox/relay"
)

func main() {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "app.db?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		log.Fatal(err)
	}
	store, err := outboxstore.New(outboxsql.New(db, outboxstore.SQLite), nil)
	if err != nil {
		log.Fatal(err)
	}
	client, err := kgo.NewClient(append(outboxkafka.ProducerOpts(), kgo.SeedBrokers("localhost:9092"))...)
	if err != nil {
		log.Fatal(err)
	}
	pub, err := outboxkafka.New(client, nil)
	if err != nil {
		log.Fatal(err)
	}
	m := outboxprom.New()
	r, err := relay.New(store, pub, &relay.Config{Hooks: m.Hooks()})
	if err != nil {
		log.Fatal(err)
	}
	in, err := inbox.New(outboxsql.New(db, outboxstore.SQLite), nil)
	if err != nil {
		log.Fatal(err)
	}
	c, err := inbox.NewConsumer(in, func(context.Context, *sql.Tx, *inbox.Message) error { return nil }, client,
		&inbox.ConsumerConfig{Group: "g", Topics: []string{"t"}})
	if err != nil {
		log.Fatal(err)
	}
	_ = outboxtest.Want{}
	go func() { _ = c.Run(ctx) }()
	log.Fatal(r.Run(ctx))
}
