package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/cmd/internal/dburl"
	"github.com/firstunicorn/outbox/outboxstore"
)

// overhead: a one-row business transaction, alone and with 1 and 10 events added.
func (e *env) overhead(ctx context.Context, rep *Report) error {
	if err := e.resetSchema(ctx); err != nil {
		return err
	}
	table, insert := ordersTable(e.db.Admin.Database())
	if err := e.db.Exec(ctx, table); err != nil {
		return fmt.Errorf("create the orders table: %w", err)
	}
	payload := make([]byte, e.cfg.PayloadBytes)
	var base float64
	// events -1 is the control: the business transaction plus one empty statement, the
	// round trip that any Write, being a call of its own, adds.
	for _, events := range []int{0, -1, 1, 10} {
		var txs atomic.Int64
		elapsed, err := e.forWriters(ctx, func(ctx context.Context, w, i int) error {
			err := e.db.InTx(ctx, func(tx dburl.Tx) error {
				if err := tx.Exec(ctx, insert, "c", 1999); err != nil {
					return err
				}
				switch events {
				case 0:
					return nil
				case -1:
					return tx.Exec(ctx, "SELECT 1")
				}
				msgs := make([]outbox.Message, events)
				for j := range msgs {
					msgs[j] = outbox.Message{Topic: "orders", Key: fmt.Appendf(nil, "o%d-%d", w, i), Payload: payload}
				}
				return tx.Write(ctx, msgs...)
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
		switch events {
		case 0:
			base = r
			rep.add("overhead.tx_0_events", r, "tx/s", "one-row business transaction, %d writers", e.cfg.Writers)
			continue
		case -1:
			rep.add("overhead.tx_round_trip", r, "tx/s", "same plus SELECT 1, the round trip a Write adds: %.1f%% fewer transactions/s", 100*(1-r/base))
			continue
		}
		rep.add(fmt.Sprintf("overhead.tx_%d_events", events), r, "tx/s",
			"same with %d event(s) of %d B: %.1f%% fewer transactions/s (target for 1 event: <= 15%%)", events, e.cfg.PayloadBytes, 100*(1-r/base))
	}
	return nil
}

// ordersTable is the business table of the overhead scenario on db, and its insert.
func ordersTable(db outboxstore.Database) (create, insert string) {
	switch db {
	case outboxstore.MySQL:
		return `CREATE TABLE ` + benchSchema + `.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY,
			customer VARCHAR(100) NOT NULL, total_cents BIGINT NOT NULL, placed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))`,
			`INSERT INTO ` + benchSchema + `.orders (customer, total_cents) VALUES (?, ?)`
	case outboxstore.SQLite:
		return `CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total_cents INTEGER NOT NULL,
			placed_at INTEGER NOT NULL DEFAULT (unixepoch()))`,
			`INSERT INTO orders (customer, total_cents) VALUES (?, ?)`
	}
	return `CREATE TABLE ` + benchSchema + `.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		customer text NOT NULL, total_cents bigint NOT NULL, placed_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO ` + benchSchema + `.orders (customer, total_cents) VALUES ($1, $2)`
}
