package outboxpgx_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// BenchmarkClaim measures the relay's claim on real PostgreSQL: open a batch of 500
// over all buckets of a 20k-event backlog, read it, roll it back (so the backlog stays).
func BenchmarkClaim(b *testing.B) {
	pool, store := newOutbox(b)
	ctx := context.Background()
	msgs := make([]outbox.Message, 1000)
	for i := 0; i < 20; i++ {
		for j := range msgs {
			msgs[j] = outbox.Message{Topic: "bench", Key: fmt.Appendf(nil, "k%d", j), Payload: make([]byte, 1024)}
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return store.Write(ctx, tx, msgs...) }); err != nil {
			b.Fatal(err)
		}
	}
	o, err := store.RelaySource()
	if err != nil {
		b.Fatal(err)
	}
	table := o.Table
	buckets := make([]int, table.Buckets())
	for i := range buckets {
		buckets[i] = i
	}
	b.ResetTimer()
	for b.Loop() {
		batch, err := table.Claim(ctx, &source.ClaimParams{Buckets: buckets, Limit: 500})
		if err != nil || batch == nil || len(batch.Records()) != 500 {
			b.Fatalf("claim: %v, %v", batch, err)
		}
		if err := batch.Rollback(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "events/s")
}
