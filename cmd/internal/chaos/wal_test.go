//go:build chaos

package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/testkit/testenv"
)

// walDB is a cluster's schema on the services' PostgreSQL in WAL mode, with a
// replication slot and publication of its own: the scenarios run as on "postgres",
// their relays streaming the slot, one reading and the others standing by.
type walDB struct {
	*pgDB
	slot string
}

func newWALDB(t *testing.T, pg *pgDB) *walDB {
	pool := pg.pool
	d := &walDB{pgDB: pg, slot: testenv.Name("chaos")}
	t.Cleanup(func() { // once the relays have stopped (cleanups run last first)
		ctx := context.Background()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if _, err := pool.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, d.slot); err == nil {
				break
			}
		}
		_, _ = pool.Exec(ctx, `DROP PUBLICATION IF EXISTS `+d.slot)
	})
	return d
}

func (d *walDB) flags() []string {
	return []string{"--mode", "wal", "--slot", d.slot, "--publication", d.slot}
}

// drained reports whether the slot confirmed everything written up to mark (an LSN).
func (d *walDB) drained(mark string) (bool, error) {
	var done bool
	err := d.pool.QueryRow(context.Background(), `SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots
		WHERE slot_name = $1`, d.slot, mark).Scan(&done)
	return done, err
}

// mark is the server's current WAL position: once the slot confirms it, every event
// committed before has been published (the relays' heartbeats carry it past).
func (d *walDB) mark() (string, error) {
	var lsn string
	err := d.pool.QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	return lsn, err
}
