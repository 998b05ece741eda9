package outboxstore_test

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

// An order and its event commit together; the operator's side counts what waits for a
// relay, lists the dead events and retries them.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, cmp.Or(os.Getenv("OUTBOX_DATABASE_URL"), "postgres://postgres@127.0.0.1:55432/outbox"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	// A schema of its own, so the example leaves nothing behind.
	_, _ = pool.Exec(ctx, `DROP SCHEMA IF EXISTS example_outboxstore CASCADE`)
	defer pool.Exec(ctx, `DROP SCHEMA example_outboxstore CASCADE`)

	store, err := outboxstore.New(outboxpgx.New(pool), &outboxstore.Config{Schema: "example_outboxstore"})
	if err != nil {
		panic(err)
	}
	admin := store.Admin()
	if _, err := admin.Migrate(ctx); err != nil { // or: outbox migrate
		panic(err)
	}

	msg, err := outbox.NewMessage("orders", orderPlaced{OrderID: "42", Total: 1999})
	if err != nil {
		panic(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// ... INSERT INTO orders ..., in tx ...
		return store.Write(ctx, tx, msg)
	})
	if err != nil {
		panic(err)
	}

	st, err := admin.Status(ctx) // or: outbox status
	if err != nil {
		panic(err)
	}
	dead, err := admin.Dead(ctx, 100) // or: outbox dead
	if err != nil {
		panic(err)
	}
	fmt.Printf("pending %d, dead %d\n", st.Pending, len(dead))
	// Output: pending 1, dead 0
}

// orderPlaced is an integration event: outbox.NewMessage encodes it with encoding/json
// and keys it by its aggregate's id, so an order's events stay in order.
type orderPlaced struct {
	OrderID string `json:"order_id"`
	Total   int    `json:"total"`
}

func (orderPlaced) EventType() string     { return "order.placed" }
func (orderPlaced) AggregateType() string { return "order" }
func (e orderPlaced) AggregateID() string { return e.OrderID }
