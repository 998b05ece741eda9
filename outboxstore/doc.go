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
// The same Store is what relay.New publishes from, and what the operator's methods
// (Migrate, Check, Status, Dead, Retry, PurgeDead) and the outbox command work on.
//
// What differs between databases stays inside the store: each has its SQL (in
// internal/dialect/<database>, as readable files) and its way of giving a batch its key
// buckets alone, so that every key is published in commit order by one batch at a
// time: transaction-scoped advisory locks on PostgreSQL, rows of a lock table locked
// FOR UPDATE SKIP LOCKED in the batch's transaction on MySQL, a hold on the buckets
// that the batch's settlement checks on SQLite. Only PostgreSQL over pgx wakes an idle
// relay by notification; elsewhere relays poll. outboxtest is the conformance suite
// every database and driver passes.
package outboxstore
