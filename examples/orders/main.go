// Command orders is the go-outbox example: an HTTP service that places orders and emits
// an order.placed event for each through the outbox, with the relay running inside the
// service; and an inventory service that consumes those events through the inbox,
// counts each customer's orders exactly once and emits stock.reserved through its own
// outbox. With --demo it places a few orders itself, redelivers one by hand, and prints
// the chain.
//
//	OUTBOX_DATABASE_URL=postgres://... OUTBOX_KAFKA_BROKERS=host:9092 go run ./examples/orders --demo
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "HTTP listen address")
	topic := flag.String("topic", "orders", "Kafka topic of the order events")
	stock := flag.String("stock-topic", "stock", "Kafka topic of the inventory service's events")
	demo := flag.Bool("demo", false, "place a few orders over HTTP, print what reaches Kafka, and exit")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, topics{*topic, *stock}, *demo); err != nil {
		fmt.Fprintln(os.Stderr, "orders:", err)
		os.Exit(1)
	}
}

// topics are the example's two topics.
type topics struct{ orders, stock string }

func run(ctx context.Context, addr string, tp topics, demo bool) error {
	app, err := setup(ctx, os.Getenv("OUTBOX_DATABASE_URL"), strings.Split(os.Getenv("OUTBOX_KAFKA_BROKERS"), ","), tp)
	if err != nil {
		return err
	}
	defer app.close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app.mux(), ReadHeaderTimeout: 5 * time.Second}
	g, gctx := errgroup.WithContext(ctx)
	runCtx, cancel := context.WithCancel(gctx)
	defer cancel()
	app.start(runCtx, g)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-runCtx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		return srv.Shutdown(sctx)
	})
	slog.Info("orders service listening", "addr", ln.Addr().String(), "topic", tp.orders)
	if demo {
		g.Go(func() error {
			defer cancel()
			return runDemo(runCtx, "http://"+ln.Addr().String(), app, tp)
		})
	}
	return g.Wait()
}

// app is the two services' wiring: database pool, Kafka client, the orders relay, and
// the inventory service's inbox consumer and relay.
type app struct {
	pool           *pgxpool.Pool
	client         *kgo.Client
	orders         *Orders
	relay          *relay.Relay
	consumer       *inbox.Consumer[pgx.Tx]
	inventoryRelay *relay.Relay
	handled        atomic.Int64 // events the inbox applied, for the demo
	duplicates     atomic.Int64 // redeliveries the inbox dropped
}

// start runs the relays and the consumer in g until ctx ends: they live and stop with
// the service.
func (a *app) start(ctx context.Context, g *errgroup.Group) {
	g.Go(func() error { return a.relay.Run(ctx) })
	g.Go(func() error { return a.consumer.Run(ctx) })
	g.Go(func() error { return a.inventoryRelay.Run(ctx) })
}

func setup(ctx context.Context, dbURL string, brokers []string, tp topics) (*app, error) {
	if dbURL == "" || brokers[0] == "" {
		return nil, errors.New("set OUTBOX_DATABASE_URL and OUTBOX_KAFKA_BROKERS (scripts/services.sh env prints them)")
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	a := &app{pool: pool}
	if err := a.init(ctx, brokers, tp); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *app) init(ctx context.Context, brokers []string, tp topics) error {
	for _, ddl := range []string{schemaSQL, inventorySQL} {
		if _, err := a.pool.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("create tables: %w", err)
		}
	}
	var err error
	a.client, err = kgo.NewClient(append(outboxkafka.ProducerOpts(), kgo.SeedBrokers(brokers...))...)
	if err != nil {
		return err
	}
	for _, topic := range []string{tp.orders, tp.stock} {
		if err := createTopic(ctx, a.client, topic); err != nil {
			return err
		}
	}
	pub, err := outboxkafka.New(a.client, nil)
	if err != nil {
		return err
	}
	// The orders service: its outbox and relay.
	store, err := newOutbox(ctx, a.pool, "outbox")
	if err != nil {
		return err
	}
	a.orders = &Orders{pool: a.pool, outbox: store, topic: tp.orders}
	if a.relay, err = relay.New(store, pub, nil); err != nil {
		return err
	}
	// The inventory service: its inbox on orders, its own outbox and relay.
	invOutbox, err := newOutbox(ctx, a.pool, "inventory_outbox")
	if err != nil {
		return err
	}
	if a.inventoryRelay, err = relay.New(invOutbox, pub, nil); err != nil {
		return err
	}
	in, err := inbox.New(outboxpgx.New(a.pool), nil)
	if err != nil {
		return err
	}
	if _, err := in.Admin().Migrate(ctx); err != nil {
		return err
	}
	inv := &Inventory{outbox: invOutbox, topic: tp.stock}
	// The consumer's client starts from the producer's options (brokers, and TLS or SASL
	// where there are): Kafka is configured once.
	a.consumer, err = inbox.NewConsumer(in, inv.Handle, a.client, &inbox.ConsumerConfig{Group: "inventory", Topics: []string{tp.orders},
		Hooks: inbox.Hooks{Event: func(s inbox.EventStats) {
			switch s.Outcome {
			case inbox.Handled:
				a.handled.Add(1)
			case inbox.Duplicate:
				a.duplicates.Add(1)
			}
		}}})
	return err
}

func newOutbox(ctx context.Context, pool *pgxpool.Pool, table string) (*outboxstore.Store[pgx.Tx], error) {
	store, err := outboxstore.New(outboxpgx.New(pool), &outboxstore.Config{Table: table})
	if err != nil {
		return nil, err
	}
	_, err = store.Admin().Migrate(ctx)
	return store, err
}

func (a *app) close() {
	if a.client != nil {
		a.client.Close()
	}
	a.pool.Close()
}

func (a *app) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST /orders", a.orders)
	return mux
}

// createTopic creates the topic if it is missing; the services script's broker does not
// create topics on first use.
func createTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}
