package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/cmd/internal/dburl"
	"github.com/firstunicorn/outbox/internal/kafkarecord"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/relay/source"
)

// limits measures what the parts can do alone, with the relay's own settings and SQL.
func (e *env) limits(ctx context.Context, rep *Report) error {
	if err := e.produceLimit(ctx, rep); err != nil {
		return err
	}
	if err := e.claimLimit(ctx, rep); err != nil {
		return err
	}
	for _, per := range []int{1, 100} {
		if err := e.insertLimit(ctx, rep, per); err != nil {
			return err
		}
	}
	return nil
}

// produceLimit: (a) franz-go producing the relay's records straight from memory.
func (e *env) produceLimit(ctx context.Context, rep *Report) error {
	topic, drop, err := e.topic(ctx, "produce")
	if err != nil {
		return err
	}
	defer drop()
	n := e.cfg.LimitEvents
	recs := make([]*kgo.Record, n)
	payload := make([]byte, e.cfg.PayloadBytes)
	for i := range recs {
		m := outbox.Message{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%e.cfg.Keys), Type: "bench", Payload: payload, OccurredAt: time.Now()}
		recs[i] = kafkarecord.New(&m)
	}
	var (
		wg     sync.WaitGroup
		failed atomic.Int64
	)
	start := time.Now()
	for _, r := range recs {
		wg.Add(1)
		e.client.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait()
	d := time.Since(start)
	if failed.Load() > 0 {
		return fmt.Errorf("produce limit: %d of %d records failed", failed.Load(), n)
	}
	rep.add("limit.a.kafka_produce", rate(n, d), "events/s", "%d records of %d B, %d keys, franz-go with the relay's settings", n, e.cfg.PayloadBytes, e.cfg.Keys)
	return nil
}

// claimLimit: (b) the relay's claim and delete statements on a pre-filled table, no
// Kafka, with the relay's default parallelism: Workers connections, each over its own
// share of the buckets (bucket % Workers), as the relay's workers claim.
func (e *env) claimLimit(ctx context.Context, rep *Report) error {
	if err := e.resetSchema(ctx); err != nil {
		return err
	}
	n := e.cfg.LimitEvents
	if _, err := e.prefill(ctx, "none", n); err != nil {
		return err
	}
	const batch, workers = relay.DefaultBatchSize, relay.DefaultWorkers
	o, err := e.db.Source.RelaySource()
	if err != nil {
		return err
	}
	table := o.Table
	if table == nil {
		return fmt.Errorf("claim limit: the store is in WAL mode")
	}
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range workers {
		var buckets []int
		for b := w; b < table.Buckets(); b += workers {
			buckets = append(buckets, b)
		}
		g.Go(func() error { return claimAll(gctx, table, buckets, batch, &done) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if got := done.Load(); got != int64(n) {
		return fmt.Errorf("claim limit: claimed %d of %d", got, n)
	}
	rep.add("limit.b.claim_delete", rate(n, time.Since(start)), "events/s",
		"relay's claim + delete, batches of %d, %d connections over a share of the buckets each, %d pre-filled rows", batch, workers, n)
	return nil
}

// claimAll claims and deletes batches from buckets until none is left.
func claimAll(ctx context.Context, table source.Store, buckets []int, batch int, done *atomic.Int64) error {
	for {
		b, err := table.Claim(ctx, &source.ClaimParams{Buckets: buckets, Limit: batch, IdleTimeout: time.Minute})
		if err != nil || b == nil {
			return err
		}
		recs := b.Records()
		seqs := make([]int64, len(recs))
		for i, r := range recs {
			seqs[i] = r.Seq
		}
		if err := b.MarkPublished(ctx, seqs, false); err != nil {
			return err
		}
		if err := b.Commit(ctx); err != nil {
			return err
		}
		done.Add(int64(len(recs)))
	}
}

// insertLimit: (c) Writers connections writing per events per transaction for Duration.
func (e *env) insertLimit(ctx context.Context, rep *Report, per int) error {
	if err := e.resetSchema(ctx); err != nil {
		return err
	}
	payload := make([]byte, e.cfg.PayloadBytes)
	var total atomic.Int64
	elapsed, err := e.forWriters(ctx, func(ctx context.Context, w, i int) error {
		msgs := make([]outbox.Message, per)
		for j := range msgs {
			msgs[j] = outbox.Message{Topic: "bench", Key: fmt.Appendf(nil, "k%d", (i*per+j+w*7919)%e.cfg.Keys), Payload: payload}
		}
		err := e.db.InTx(ctx, func(tx dburl.Tx) error { return tx.Write(ctx, msgs...) })
		if err == nil {
			total.Add(int64(per))
		}
		return err
	})
	if err != nil {
		return err
	}
	rep.add(fmt.Sprintf("limit.c.insert_%d_per_tx", per), rate(int(total.Load()), elapsed), "events/s",
		"%d writer connections, %d event(s) of %d B per transaction", e.cfg.Writers, per, e.cfg.PayloadBytes)
	return nil
}

// forWriters runs fn in a loop on Writers goroutines for Duration and returns how long
// they ran. fn gets the writer number and its iteration.
func (e *env) forWriters(ctx context.Context, fn func(ctx context.Context, w, i int) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Duration)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	start := time.Now()
	for w := 0; w < e.cfg.Writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if err := fn(ctx, w, i); err != nil && ctx.Err() == nil {
					mu.Lock()
					first = err
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), first
}
