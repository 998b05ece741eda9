package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/cmd/internal/dburl"
	"github.com/firstunicorn/outbox/outboxstore"
)

// overheadRounds is how many times each variant of the overhead scenario runs, in a
// rotating order: the machine's noise moves runs by more than the differences measured,
// so each variant's row is the median of its runs, taken side by side with the others.
const overheadRounds = 5

// overheadVariant is one way of running the business transaction.
type overheadVariant struct {
	name string
	// events the transaction writes, and how: -1 is the control (an empty statement,
	// the round trip a Write adds as a call of its own); queued sends them on the
	// business statement's round trip (pgx only); batched also queues BEGIN there.
	events          int
	queued, batched bool
}

// overhead: a one-row business transaction, alone and with 1 and 10 events added, in a
// Write of their own or, on PostgreSQL, queued with the business statement.
func (e *env) overhead(ctx context.Context, rep *Report) error {
	if err := e.resetSchema(ctx); err != nil {
		return err
	}
	table, insert := ordersTable(e.db.Admin.Database())
	if err := e.db.Exec(ctx, table); err != nil {
		return fmt.Errorf("create the orders table: %w", err)
	}
	variants := []overheadVariant{{name: "0_events"}, {name: "round_trip", events: -1}, {name: "1_events", events: 1}, {name: "10_events", events: 10}}
	if e.db.Batched != nil {
		variants = append(variants, overheadVariant{name: "1_event_queued", events: 1, queued: true},
			overheadVariant{name: "0_events_batched", batched: true}, overheadVariant{name: "1_event_batched", events: 1, batched: true})
	}
	rates := make([][]float64, len(variants))
	err := rotating(overheadRounds, len(variants), func(i int) error {
		r, err := e.overheadRun(ctx, insert, variants[i])
		rates[i] = append(rates[i], r)
		return err
	})
	if err != nil {
		return err
	}
	base, batchedBase := medianRate(rates[0]), 0.0
	for i, v := range variants {
		r := medianRate(rates[i])
		fewer := 100 * (1 - r/base)
		switch {
		case v.batched && v.events == 0:
			batchedBase = r
			rep.add("overhead.tx_0_events_batched", r, "tx/s", "the business transaction in two round trips: BEGIN and its statement in one batch (pgx's Batch.BeginTx), then COMMIT")
		case v.batched:
			rep.add("overhead.tx_1_event_batched", r, "tx/s",
				"same with 1 event of %d B queued in its batch: %.1f%% fewer transactions/s than the batched transaction without it (target: WAL mode <= 5%%, table mode <= 30%%)",
				e.cfg.PayloadBytes, 100*(1-r/batchedBase))
		case v.events == 0:
			rep.add("overhead.tx_0_events", r, "tx/s", "one-row business transaction, %d writers, median of %d runs", e.cfg.Writers, overheadRounds)
		case v.events < 0:
			rep.add("overhead.tx_round_trip", r, "tx/s", "same plus SELECT 1, the round trip a Write adds: %.1f%% fewer transactions/s", fewer)
		case v.queued:
			rep.add("overhead.tx_1_event_queued", r, "tx/s",
				"same with 1 event of %d B queued on the business statement's round trip (outboxpgx.Queue): %.1f%% fewer transactions/s (target: WAL mode <= 5%%, table mode <= 30%%)",
				e.cfg.PayloadBytes, fewer)
		default:
			rep.add(fmt.Sprintf("overhead.tx_%s", v.name), r, "tx/s",
				"same with %d event(s) of %d B in a Write of their own: %.1f%% fewer transactions/s", v.events, e.cfg.PayloadBytes, fewer)
		}
	}
	return nil
}

// overheadRun runs v's transactions from every writer for the scenario's duration and
// returns how many committed per second.
func (e *env) overheadRun(ctx context.Context, insert string, v overheadVariant) (float64, error) {
	payload := make([]byte, e.cfg.PayloadBytes)
	var txs atomic.Int64
	elapsed, err := e.forWriters(ctx, func(ctx context.Context, w, i int) error {
		msgs := make([]outbox.Message, max(v.events, 0))
		for j := range msgs {
			msgs[j] = outbox.Message{Topic: "orders", Key: fmt.Appendf(nil, "o%d-%d", w, i), Payload: payload}
		}
		if v.batched {
			err := e.db.Batched(ctx, insert, []any{"c", 1999}, msgs...)
			if err == nil {
				txs.Add(1)
			}
			return err
		}
		err := e.db.InTx(ctx, func(tx dburl.Tx) error {
			if v.queued {
				return tx.ExecWrite(ctx, insert, []any{"c", 1999}, msgs...)
			}
			if err := tx.Exec(ctx, insert, "c", 1999); err != nil {
				return err
			}
			switch {
			case v.events < 0:
				return tx.Exec(ctx, "SELECT 1")
			case v.events == 0:
				return nil
			}
			return tx.Write(ctx, msgs...)
		})
		if err == nil {
			txs.Add(1)
		}
		return err
	})
	return rate(int(txs.Load()), elapsed), err
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

// medianRate is the middle of rates.
func medianRate(rates []float64) float64 {
	s := slices.Sorted(slices.Values(rates))
	return s[len(s)/2]
}
