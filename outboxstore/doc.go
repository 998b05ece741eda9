// Package outboxstore is the outbox in your database: one API over PostgreSQL,
// MySQL/MariaDB and SQLite, whichever Go driver you use.
//
// Pick the driver for your connection pool and pass it to New:
//
//	store, err := outboxstore.New(outboxpgx.New(pool), nil)                 // *pgxpool.Pool: Store[pgx.Tx]
//	store, err := outboxstore.New(outboxsql.New(db, outboxstore.MySQL), nil) // *sql.DB:       Store[*sql.Tx]
//
// Then, in the transaction of each domain change, Write its events; they are published
// once it commits and never if it rolls back:
//
//	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
//		// ... the domain change, in tx ...
//		return store.Write(ctx, tx, msg)
//	})
//
// With pgx, outboxpgx.Queue puts the same write on the batch of the domain change's own
// statements instead, saving its round trip.
//
// The operator's side of the same outbox is Store.Admin: Migrate, Check, Status,
// Backlog, the dead letters (Dead, Retry, RetryAll, PurgeDead, PurgeDeadOlderThan) and
// WAL mode's slot, as the outbox command's verbs. relay.New takes the Store itself and
// publishes what it holds; the relay's side of the store is package relay/source, which
// applications do not need.
//
// What differs between databases stays inside the store: each has its SQL (in
// internal/dialect/<database>, as readable files) and its way of giving a batch its key
// buckets alone, so that every key is published in commit order by one batch at a
// time: transaction-scoped advisory locks on PostgreSQL, rows of a lock table locked
// FOR UPDATE SKIP LOCKED in the batch's transaction on MySQL, a hold on the buckets
// that the batch's settlement checks on SQLite. Only PostgreSQL over pgx wakes an idle
// relay by notification; elsewhere relays poll. One conformance suite (in the module's
// test kit) runs on every database and driver; package outboxtest has assertions for
// the application's own tests.
package outboxstore
