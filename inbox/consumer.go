package inbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
)

// Handler applies one event inside tx, the transaction that also records the event in
// the inbox. It must not commit or roll back tx: the inbox does, after it returns nil.
// An error rolls the transaction back and the event is tried again (ConsumerConfig.MaxAttempts,
// ConsumerConfig.Backoff); an error wrapping outbox.ErrPermanent dead-letters it at once. A
// panic is recovered and counts as an error.
type Handler[TTx any] func(ctx context.Context, tx TTx, m *Message) error

// ErrUnknownTopic is returned by Run when one of ConsumerConfig.Topics does not exist.
var ErrUnknownTopic = errors.New("inbox: topic does not exist")

// startTimeout bounds Run's first conversation with the brokers.
const startTimeout = 15 * time.Second

// pollRecords bounds one poll; the records go to their partitions' queues at once.
const pollRecords = 1000

// Consumer consumes Kafka topics in a consumer group and hands each event to its
// handler through the inbox.
type Consumer[TTx any] struct {
	store   *Store[TTx]
	handler Handler[TTx]
	opts    []kgo.Opt // the caller's client's options
	cfg     ConsumerConfig
	tracer  trace.Tracer
	sem     chan struct{} // ConsumerConfig.Concurrency handlers at once

	mu    sync.Mutex
	parts map[topicPartition]*partition
	cl    *kgo.Client
	base  context.Context // the workers' context: Run's, without its cancellation
	ran   bool
}

type topicPartition struct {
	topic string
	part  int32
}

// NewConsumer validates cfg and returns a consumer of store that calls handler, as
// relay.New returns a relay. client is a franz-go client the caller built, whose
// options (brokers, TLS, SASL, timeouts, hooks) the consumer's own client starts from;
// the consumer group's options are the inbox's, so client must not set them. The caller
// keeps client. It connects to nothing until Run.
func NewConsumer[TTx any](store *Store[TTx], handler Handler[TTx], client *kgo.Client, cfg *ConsumerConfig) (*Consumer[TTx], error) {
	if store == nil {
		return nil, fmt.Errorf("%w: inbox: NewConsumer needs the Store from inbox.New", outbox.ErrInvalidConfig)
	}
	if handler == nil {
		return nil, fmt.Errorf("%w: inbox: NewConsumer needs a handler", outbox.ErrInvalidConfig)
	}
	if err := checkClient(client); err != nil {
		return nil, err
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tp := c.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Consumer[TTx]{
		store: store, handler: handler, opts: client.Opts(), cfg: c, tracer: tp.Tracer("github.com/firstunicorn/outbox/inbox"),
		sem: make(chan struct{}, c.Concurrency), parts: map[topicPartition]*partition{},
	}, nil
}

// Run consumes until ctx ends, then finishes the events in flight (within
// ConsumerConfig.ShutdownTimeout), commits their offsets, leaves the group and returns nil.
// It returns an error at once when the brokers cannot be reached or a topic does not
// exist (ErrUnknownTopic). A Consumer runs once.
func (c *Consumer[TTx]) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.ran {
		c.mu.Unlock()
		return errors.New("inbox: Run called twice: make a new Consumer")
	}
	c.ran, c.base = true, context.WithoutCancel(ctx)
	c.mu.Unlock()
	// read_committed unless the caller's client says otherwise: an exactly-once relay's
	// aborted transactions stay unseen, and without transactions nothing changes.
	opts := append(append([]kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}, c.opts...),
		kgo.ConsumerGroup(c.cfg.Group),
		kgo.ConsumeTopics(c.cfg.Topics...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(c.cfg.CommitInterval),
		kgo.BlockRebalanceOnPoll(),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("%w: inbox: %w", outbox.ErrInvalidConfig, err)
	}
	c.mu.Lock()
	c.cl = cl
	c.mu.Unlock()
	if err := c.checkTopics(ctx, cl); err != nil {
		cl.Close()
		return err
	}
	loops, stopLoops := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.every(loops, c.cfg.RetryInterval, c.retryDead) })
	wg.Go(func() { c.every(loops, c.cfg.PurgeInterval, c.purge) })
	c.poll(ctx, cl)
	stopLoops()
	wg.Wait()
	// Leaving the group revokes every partition: revoked finishes their events and
	// commits their offsets.
	cl.CloseAllowingRebalance()
	c.stopAll()
	return nil
}

// checkTopics fails fast on unreachable brokers and missing topics.
func (c *Consumer[TTx]) checkTopics(ctx context.Context, cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	details, err := kadm.NewClient(cl).ListTopics(ctx, c.cfg.Topics...)
	if err != nil {
		return fmt.Errorf("inbox: cannot reach the brokers %v: %w", cl.OptValue(kgo.SeedBrokers), err)
	}
	var missing []string
	for _, t := range c.cfg.Topics {
		if d, ok := details[t]; !ok || d.Err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %q: create it, or fix ConsumerConfig.Topics", ErrUnknownTopic, missing)
	}
	return nil
}

// poll fetches until ctx ends and queues each partition's records for its worker. The
// rebalance callbacks run only between polls (BlockRebalanceOnPoll), so a poll's
// records always find the worker of the assignment they were fetched for.
func (c *Consumer[TTx]) poll(ctx context.Context, cl *kgo.Client) {
	for ctx.Err() == nil {
		fetches := cl.PollRecords(ctx, pollRecords)
		if fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, part int32, err error) {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				c.cfg.Logger.Warn("inbox: fetch failed", "topic", topic, "partition", part, "err", err)
			}
		})
		c.mu.Lock()
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if w := c.parts[topicPartition{p.Topic, p.Partition}]; w != nil && len(p.Records) > 0 {
				w.push(p.Records, p.HighWatermark, cl, c.cfg.MaxBuffered)
			}
		})
		c.mu.Unlock()
		cl.AllowRebalance()
	}
}

// every runs fn every interval until ctx ends.
func (c *Consumer[TTx]) every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

func (c *Consumer[TTx]) purge(ctx context.Context) {
	n, err := c.store.a.purge(ctx, c.cfg.Retention)
	if err != nil && ctx.Err() == nil {
		c.cfg.Logger.Warn("inbox: purge of old records failed", "err", err)
	} else if n > 0 {
		c.cfg.Logger.Debug("inbox: purged old records", "records", n)
	}
}
