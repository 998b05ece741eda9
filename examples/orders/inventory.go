package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxstore"
)

// StockReserved is the inventory service's event, emitted once per order it applied.
type StockReserved struct {
	OrderID     int64  `json:"order_id"`
	Customer    string `json:"customer"`
	OrdersSoFar int64  `json:"customer_orders_so_far"`
}

func (StockReserved) EventType() string     { return "stock.reserved" }
func (StockReserved) AggregateType() string { return "order" }
func (e StockReserved) AggregateID() string { return fmt.Sprint(e.OrderID) }

// The inventory service's own table: a counter per customer, which a duplicate would
// bump twice. (The example keeps both services in one database; in production each
// has its own, with its own outbox and inbox tables.)
const inventorySQL = `CREATE TABLE IF NOT EXISTS customer_orders (
	customer    text   PRIMARY KEY,
	orders      bigint NOT NULL,
	total_cents bigint NOT NULL
)`

// Inventory consumes order.placed through the inbox: it counts the customer's orders
// and emits stock.reserved through its own outbox, all in the inbox's transaction.
type Inventory struct {
	outbox *outboxstore.Store[pgx.Tx]
	topic  string
}

// Handle is the inbox handler: applied once per order, however often Kafka delivers it.
func (inv *Inventory) Handle(ctx context.Context, tx pgx.Tx, m *inbox.Message) error {
	var ev OrderPlaced
	if err := json.Unmarshal(m.Value, &ev); err != nil {
		return fmt.Errorf("order.placed %s: %w: %w", m.ID, outbox.ErrPermanent, err) // retrying cannot fix it
	}
	out := StockReserved{OrderID: ev.OrderID, Customer: ev.Customer}
	err := tx.QueryRow(ctx, `INSERT INTO customer_orders (customer, orders, total_cents) VALUES ($1, 1, $2)
		ON CONFLICT (customer) DO UPDATE SET orders = customer_orders.orders + 1,
			total_cents = customer_orders.total_cents + excluded.total_cents
		RETURNING orders`, ev.Customer, ev.TotalCents).Scan(&out.OrdersSoFar)
	if err != nil {
		return err
	}
	msg, err := outbox.NewMessage(inv.topic, out)
	if err != nil {
		return err
	}
	return inv.outbox.Write(ctx, tx, msg) // consume → change → emit: one transaction
}
