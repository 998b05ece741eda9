package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxstore"
)

// OrderPlaced is the integration event other services consume.
type OrderPlaced struct {
	OrderID    int64     `json:"order_id"`
	Customer   string    `json:"customer"`
	TotalCents int64     `json:"total_cents"`
	PlacedAt   time.Time `json:"placed_at"`
}

func (OrderPlaced) EventType() string     { return "order.placed" }
func (OrderPlaced) AggregateType() string { return "order" }
func (e OrderPlaced) AggregateID() string { return fmt.Sprint(e.OrderID) }

const schemaSQL = `CREATE TABLE IF NOT EXISTS orders (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer    text        NOT NULL CHECK (customer <> ''),
	total_cents bigint      NOT NULL CHECK (total_cents > 0),
	placed_at   timestamptz NOT NULL DEFAULT now()
)`

// Orders places orders: the order row and its event commit together or not at all.
type Orders struct {
	pool   *pgxpool.Pool
	outbox *outboxstore.Store[pgx.Tx]
	topic  string
}

var errBadOrder = errors.New("bad order")

// Place inserts the order and stores its OrderPlaced event in the same transaction.
func (o *Orders) Place(ctx context.Context, customer string, totalCents int64) (OrderPlaced, error) {
	ev := OrderPlaced{Customer: customer, TotalCents: totalCents}
	err := pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO orders (customer, total_cents) VALUES ($1, $2) RETURNING id, placed_at`,
			customer, totalCents).Scan(&ev.OrderID, &ev.PlacedAt)
		if err != nil {
			return fmt.Errorf("%w: %w", errBadOrder, err)
		}
		msg, err := outbox.NewMessage(o.topic, ev)
		if err != nil {
			return err
		}
		return o.outbox.Write(ctx, tx, msg) // same tx: no order without its event, no event without its order
	})
	return ev, err
}

// ServeHTTP handles POST /orders {"customer": "...", "total_cents": 1999}.
func (o *Orders) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Customer   string `json:"customer"`
		TotalCents int64  `json:"total_cents"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		http.Error(w, "body must be JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	ev, err := o.Place(r.Context(), req.Customer, req.TotalCents)
	switch {
	case errors.Is(err, errBadOrder):
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(ev)
}
