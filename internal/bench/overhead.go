package bench

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/firstunicorn/outbox"
)

// overhead: a one-row business transaction, alone and with 1 and 10 events added.
func (e *env) overhead(ctx context.Context, rep *Report) error {
	if err := e.resetSchema(ctx); err != nil {
		return err
	}
	orders := e.schema + ".orders"
	if _, err := e.pool.Exec(ctx, `CREATE TABLE `+orders+` (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		customer text NOT NULL, total_cents bigint NOT NULL, placed_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	payload := make([]byte, e.cfg.PayloadBytes)
	var base float64
	for _, events := range []int{0, 1, 10} {
		var txs atomic.Int64
		elapsed, err := e.forWriters(ctx, func(ctx context.Context, w, i int) error {
			err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO `+orders+` (customer, total_cents) VALUES ($1, $2)`, "c", 1999); err != nil {
					return err
				}
				if events == 0 {
					return nil
				}
				msgs := make([]outbox.Message, events)
				for j := range msgs {
					msgs[j] = outbox.Message{Topic: "orders", Key: fmt.Appendf(nil, "o%d-%d", w, i), Payload: payload}
				}
				return e.writer.Write(ctx, tx, msgs...)
			})
			if err == nil {
				txs.Add(1)
			}
			return err
		})
		if err != nil {
			return err
		}
		r := rate(int(txs.Load()), elapsed)
		if events == 0 {
			base = r
			rep.add("overhead.tx_0_events", r, "tx/s", "one-row business transaction, %d writers", e.cfg.Writers)
			continue
		}
		rep.add(fmt.Sprintf("overhead.tx_%d_events", events), r, "tx/s",
			"same with %d event(s) of %d B: %.1f%% fewer transactions/s (target for 1 event: <= 15%%)", events, e.cfg.PayloadBytes, 100*(1-r/base))
	}
	return nil
}
