package outboxstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// TestWALFailoverSlot: on PostgreSQL 17 with a standby, Migrate turns a slot made
// without FAILOVER into a failover slot, the primary's Slot says a failover would cost
// nothing, and the standby's Slot shows its synced copy. On PostgreSQL 15, Slot says
// the slot is not failover-safe.
func TestWALFailoverSlot(t *testing.T) {
	ctx := context.Background()
	ha := testenv.PGHA(t)
	pool, err := pgxpool.New(ctx, ha.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	name := testenv.Name("fo")
	cfg := &outboxstore.Config{Schema: testenv.Schema(t, pool), Mode: outboxstore.WALMode, Slot: name, Publication: name}
	t.Cleanup(func() {
		_, _ = pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, name)
		_, _ = pool.Exec(ctx, `DROP PUBLICATION IF EXISTS `+name)
	})
	// As an older go-outbox, or PostgreSQL 16 before an upgrade, left it: the
	// publication, then a slot without FAILOVER.
	for _, q := range []string{`CREATE PUBLICATION ` + name, `SELECT pg_create_logical_replication_slot('` + name + `', 'pgoutput')`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	store, err := outboxstore.New(outboxpgx.New(pool), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Admin().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sl, err := store.Admin().Slot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sl.Failover || sl.Standby || sl.ServerVersion < 170000 || sl.SynchronizedStandbySlots == "" || sl.FailoverRisk() != "" {
		t.Fatalf("primary's slot after Migrate: %+v, risk %q; want a failover slot on 17 with synchronized_standby_slots set", sl, sl.FailoverRisk())
	}

	standby, err := outboxstore.New(outboxpgx.New(ha.Standby(t)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	for i := 0; ; i++ {
		if i == 10 { // a new worker syncs at once, where the first one naps ever longer
			ha.SlotSync(t, false)
			ha.SlotSync(t, true)
		}
		sl, err = standby.Admin().Slot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sl.Synced || time.Since(began) > time.Minute {
			break
		}
		// What a reader would do: the primary's slot moves past a running-xacts record,
		// after which the standby's copy is ready.
		for _, q := range []string{`SELECT pg_log_standby_snapshot()`, `SELECT pg_replication_slot_advance('` + name + `', pg_current_wal_lsn())`} {
			if _, err := pool.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if risk := sl.FailoverRisk(); !strings.Contains(risk, "no synced copy") {
			t.Fatalf("standby's slot before it synced: %+v, risk %q", sl, risk)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !sl.Synced || !sl.Standby || !sl.Failover || sl.FailoverRisk() != "" {
		t.Fatalf("standby's slot: %+v, risk %q; want a synced failover slot", sl, sl.FailoverRisk())
	}
	t.Logf("the standby synced the slot %s after Migrate", time.Since(began).Round(time.Millisecond))

	old := testenv.NewWALOutbox(t, outbox.Limits{})
	osl, err := old.Store.Admin().Slot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if risk := osl.FailoverRisk(); osl.ServerVersion >= 170000 || !strings.Contains(risk, "not failover-safe") {
		t.Fatalf("PostgreSQL 15's slot: %+v, risk %q; want not failover-safe", osl, risk)
	}
}
