package outboxpgx_test

import (
	"cmp"
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
)

// The event is written in the transaction of the domain change: it exists if and only if
// the change committed. (Runs against scripts/services.sh's PostgreSQL, or
// OUTBOX_DATABASE_URL.)
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, cmp.Or(os.Getenv("OUTBOX_DATABASE_URL"), "postgres://postgres@127.0.0.1:55432/outbox"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	// A schema of its own, so the example leaves nothing behind.
	_, _ = pool.Exec(ctx, `DROP SCHEMA IF EXISTS example_outboxpgx CASCADE`)
	defer pool.Exec(ctx, `DROP SCHEMA example_outboxpgx CASCADE`)

	store, err := outboxstore.New(outboxpgx.New(pool), &outboxstore.Config{Schema: "example_outboxpgx"})
	if err != nil {
		panic(err)
	}
	if _, err := store.Admin().Migrate(ctx); err != nil { // or: outbox migrate --schema example_outboxpgx
		panic(err)
	}
	msg := outbox.Message{Topic: "orders", Key: []byte("order-42"), Type: "order.placed", Payload: []byte(`{"id":42}`)}

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// ... the domain change, in tx ...
		return store.Write(ctx, tx, msg)
	})
	if err != nil {
		panic(err)
	}
	_ = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := store.Write(ctx, tx, msg); err != nil {
			return err
		}
		return fmt.Errorf("the domain change failed") // rolled back: the event goes too
	})

	st, err := store.Admin().Status(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("pending events:", st.Pending)
	// Output: pending events: 1
}
