// Command orders is the go-outbox example: an HTTP service that places orders and emits
// an order.placed event for each through the outbox, with the relay running inside the
// service. With --demo it places a few orders itself and prints what reaches Kafka.
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
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "HTTP listen address")
	topic := flag.String("topic", "orders", "Kafka topic of the order events")
	demo := flag.Bool("demo", false, "place a few orders over HTTP, print what reaches Kafka, and exit")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *topic, *demo); err != nil {
		fmt.Fprintln(os.Stderr, "orders:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, topic string, demo bool) error {
	app, err := setup(ctx, os.Getenv("OUTBOX_DATABASE_URL"), strings.Split(os.Getenv("OUTBOX_KAFKA_BROKERS"), ","), topic)
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
	g.Go(func() error { return app.relay.Run(runCtx) }) // the relay lives and stops with the service
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
	slog.Info("orders service listening", "addr", ln.Addr().String(), "topic", topic)
	if demo {
		g.Go(func() error {
			defer cancel()
			return runDemo(runCtx, "http://"+ln.Addr().String(), app.client, topic)
		})
	}
	return g.Wait()
}

// app is the service's wiring: database pool, Kafka client, relay.
type app struct {
	pool   *pgxpool.Pool
	client *kgo.Client
	orders *Orders
	relay  *relay.Relay
}

func setup(ctx context.Context, dbURL string, brokers []string, topic string) (*app, error) {
	if dbURL == "" || brokers[0] == "" {
		return nil, errors.New("set OUTBOX_DATABASE_URL and OUTBOX_KAFKA_BROKERS (scripts/services.sh env prints them)")
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	a := &app{pool: pool}
	if err := a.init(ctx, brokers, topic); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *app) init(ctx context.Context, brokers []string, topic string) error {
	if _, err := a.pool.Exec(ctx, schemaSQL); err != nil {
		return fmt.Errorf("create orders table: %w", err)
	}
	store, err := outboxstore.New(outboxpgx.New(a.pool), nil)
	if err != nil {
		return err
	}
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	a.orders = &Orders{pool: a.pool, outbox: store, topic: topic}
	a.client, err = kgo.NewClient(append(outboxkafka.ProducerOpts(), kgo.SeedBrokers(brokers...))...)
	if err != nil {
		return err
	}
	if err := createTopic(ctx, a.client, topic); err != nil {
		return err
	}
	pub, err := outboxkafka.New(a.client, nil)
	if err != nil {
		return err
	}
	a.relay, err = relay.New(store, pub, nil)
	return err
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
