package inbox_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// benchEvents is the backlog each consumer drains.
const benchEvents = 40_000

// BenchmarkConsume drains one backlog of go-outbox events (8 partitions, 1 KiB each)
// into PostgreSQL, each sub-benchmark with a group of its own, side by side in one run:
//
//   - limit: franz-go's group consumer, a goroutine per partition, each event one
//     transaction of one INSERT (what a hand-written consumer does, without dedupe);
//   - inbox: the inbox consumer, its handler the same INSERT;
//   - inbox_batch_100: the same with Config.BatchSize 100.
//
// It reports events/s and the p50/p99 time of one event's transaction (begin to
// commit, the inbox's record insert included; in batches, the batch's). Run with
// -benchtime=1x -count=N.
func BenchmarkConsume(b *testing.B) {
	pool := testenv.Pool(b)
	schema := testenv.Schema(b, pool)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE `+schema+`.effects (id text PRIMARY KEY, body bytea)`); err != nil {
		b.Fatal(err)
	}
	store := must(inbox.New(outboxpgx.New(pool), &inbox.Config{Schema: schema}))
	migrate(&testing.T{}, store.Admin())
	topic := testenv.Topic(b, 8, nil)
	produceBacklog(b, topic)
	insert := `INSERT INTO ` + schema + `.effects (id, body) VALUES ($1, $2)`
	clear := func() {
		if _, err := pool.Exec(ctx, `TRUNCATE `+schema+`.effects`); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("limit", func(b *testing.B) {
		for b.Loop() {
			clear()
			report(b, drainLimit(b, pool, topic, insert))
		}
	})
	for _, batch := range []int{1, 100} {
		name := "inbox"
		if batch > 1 {
			name = fmt.Sprintf("inbox_batch_%d", batch)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				clear()
				report(b, drainInbox(b, store, topic, insert, batch))
			}
		})
	}
}

type drained struct {
	took  time.Duration
	times []time.Duration
}

func report(b *testing.B, d drained) {
	slices.Sort(d.times)
	b.ReportMetric(float64(benchEvents)/d.took.Seconds(), "events/s")
	b.ReportMetric(float64(d.times[len(d.times)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(d.times[len(d.times)*99/100].Microseconds()), "p99-µs")
}

func produceBacklog(b *testing.B, topic string) {
	cl := testenv.Client(b, kgo.ProducerLinger(5*time.Millisecond))
	body := make([]byte, 1024)
	var wg sync.WaitGroup
	var failed atomic.Value
	for i := range benchEvents {
		r := event(topic, fmt.Sprintf("k%d", i%10_000), i)
		r.Value = body
		wg.Add(1)
		cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
}

// drainLimit consumes topic with a fresh group, one goroutine per partition.
func drainLimit(b *testing.B, pool *pgxpool.Pool, topic, insert string) drained {
	cl := testenv.Client(b, kgo.ConsumerGroup(testenv.Name("limit")), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var mu sync.Mutex
	var times []time.Duration
	var done atomic.Int64
	var failed atomic.Pointer[error]
	start := time.Now()
	var wg sync.WaitGroup
	for done.Load() < benchEvents && failed.Load() == nil {
		fs := cl.PollRecords(context.Background(), 10_000)
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			wg.Go(func() {
				local := make([]time.Duration, 0, len(p.Records))
				for _, r := range p.Records {
					t0 := time.Now()
					if err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
						_, err := tx.Exec(context.Background(), insert, string(r.Headers[0].Value)+"/limit", r.Value)
						return err
					}); err != nil {
						failed.Store(&err)
						return
					}
					local = append(local, time.Since(t0))
				}
				done.Add(int64(len(p.Records)))
				mu.Lock()
				times = append(times, local...)
				mu.Unlock()
			})
		})
		wg.Wait() // the next poll after this one's records: each partition stays in order
	}
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	return drained{time.Since(start), times}
}

// drainInbox consumes topic through the inbox with a fresh group.
func drainInbox(b *testing.B, store *inbox.Store[pgx.Tx], topic, insert string, batch int) drained {
	var mu sync.Mutex
	var times []time.Duration
	var handled atomic.Int64
	c := must(inbox.NewConsumer(store, func(ctx context.Context, tx pgx.Tx, m *inbox.Message) error {
		_, err := tx.Exec(ctx, insert, m.ID+"/inbox", m.Value)
		return err
	}, testenv.Client(b), &inbox.ConsumerConfig{Group: testenv.Name("inbox"), Topics: []string{topic}, BatchSize: batch,
		Hooks: inbox.Hooks{Event: func(s inbox.EventStats) {
			mu.Lock()
			times = append(times, s.Duration)
			mu.Unlock()
			handled.Add(1)
		}}}))
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	for handled.Load() < benchEvents {
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	return drained{took, times}
}
