package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxstore"
)

// NewWALOutbox is NewOutbox on PostgreSQL in WAL mode, with a replication slot and a
// publication of its own; both are dropped when the test ends, once no relay reads.
func NewWALOutbox(t testing.TB, lim outbox.Limits) *Outbox {
	t.Helper()
	name := Name("w")
	pool := Pool(t)
	t.Cleanup(func() {
		ctx := context.Background()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			var active bool
			err := pool.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, name).Scan(&active)
			if err != nil || !active { // gone, or free to drop
				break
			}
		}
		_, _ = pool.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, name)
		_, _ = pool.Exec(ctx, `DROP PUBLICATION IF EXISTS `+name)
	})
	return newOutbox(t, "postgres", &outboxstore.Config{Limits: lim, Mode: outboxstore.WALMode, Slot: name, Publication: name})
}
