package relay_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// A slot invalidated by max_slot_wal_keep_size has lost events: Check and the relay
// refuse it with an error that says so and how to recover, rather than read on or
// create a fresh slot; the same for a slot dropped by hand. RecreateSlot recovers.
// (On a cluster of the test's own: the setting would endanger the shared one's slots.)
func TestStreamRefusesLostSlot(t *testing.T) {
	url := testenv.PrivatePostgres(t, "max_slot_wal_keep_size = 32MB")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store, err := outboxstore.New(outboxpgx.New(pool), &outboxstore.Config{Mode: outboxstore.WALMode})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Admin().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	write := func() {
		t.Helper()
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return store.Write(ctx, tx, outbox.Message{Topic: "t", Payload: []byte("x")})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	write()
	for i := 0; ; i++ { // WAL past max_slot_wal_keep_size, then a checkpoint removes it
		slot, err := store.Admin().Slot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if slot.WALStatus == "lost" {
			break
		}
		if i == 20 {
			t.Fatalf("slot not invalidated: %+v", slot)
		}
		for _, q := range []string{`CREATE TABLE IF NOT EXISTS filler (x text)`,
			`INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 20000)`, `SELECT pg_switch_wal()`, `CHECKPOINT`} {
			if _, err := pool.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	lost := func(what string, err error, want string) {
		t.Helper()
		if !errors.Is(err, relay.ErrStreamLost) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--recreate-slot") {
			t.Fatalf("%s: %v; want relay.ErrStreamLost saying %q and how to recover", what, err, want)
		}
	}
	lost("Check", store.Admin().Check(ctx), "invalidated")
	lost("relay", runUntilStopped(t, store, url), "invalidated")

	if _, err := store.Admin().RecreateSlot(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Admin().Check(ctx); err != nil {
		t.Fatalf("after RecreateSlot: %v", err)
	}
	if _, err := pool.Exec(ctx, `SELECT pg_drop_replication_slot('outbox')`); err != nil {
		t.Fatal(err)
	}
	lost("Check after the slot was dropped", store.Admin().Check(ctx), "does not exist on this server")
	lost("relay after the slot was dropped", runUntilStopped(t, store, url), "does not exist on this server")
	if slot, _ := store.Admin().Slot(ctx); slot.WALStatus != "" {
		t.Fatalf("the relay created a fresh slot in place of the dropped one: %+v", slot)
	}
}

// runUntilStopped runs a WAL-mode relay and returns Run's error, failing the test if
// Run does not return by itself within 10 s.
func runUntilStopped(t *testing.T, store *outboxstore.Store[pgx.Tx], url string) error {
	t.Helper()
	r, err := relay.New(store, publisher(t), &relay.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = r.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("the relay ran on")
	}
	return err
}
