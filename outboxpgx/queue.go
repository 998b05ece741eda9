package outboxpgx

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/outboxstore"
)

// Queue puts on b the statement that store.Write would run for msgs, so that the events
// travel with the domain change's own statements in one round trip instead of a round
// trip of their own: send b with tx.SendBatch in the transaction of the domain change
// and close its results, whose error is then Write's. msgs are validated and given
// their defaults and the trace context of ctx's span now, as Write does, and an
// invalid message is Queue's error, with b left as it was.
//
// With pgx.Batch.BeginTx the transaction's BEGIN rides along too. Write is the simpler
// call, and costs one round trip more.
func Queue(ctx context.Context, store *outboxstore.Store[pgx.Tx], b *pgx.Batch, msgs ...outbox.Message) error {
	if b == nil {
		return fmt.Errorf("outbox: queue: %w: pass the *pgx.Batch of the domain change", outbox.ErrNoDB)
	}
	stmts, err := sqldb.Statements(ctx, store, msgs)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		qq := b.Queue(st.SQL, native(st.Args)...)
		qq.Fn = func(br pgx.BatchResults) error {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("outbox: write %d messages: %w", len(msgs), txDone(err))
			}
			return nil
		}
	}
	return nil
}
