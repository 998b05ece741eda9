// Package outbox implements the transactional outbox pattern for Go services that publish
// to Apache Kafka.
//
// A service stores integration events in an outbox table in the same database transaction
// as its domain change, so an event exists if and only if the change committed. A relay
// then publishes the stored events to Kafka at least once, in order per key, and deletes
// (or marks) what was sent.
//
// The pieces, one package each:
//
//   - outbox (this package): [Message], the [Event] helper [NewMessage], the [Publisher]
//     contract, message validation and the sentinel errors.
//   - outboxstore: the outbox in your database (PostgreSQL, MySQL/MariaDB or SQLite):
//     Write inside your transaction, migrations, status and dead letters, and the store
//     the relay claims from.
//   - outboxpgx and outboxsql: the store's drivers, over a pgx pool or a *sql.DB.
//   - outboxkafka: the [Publisher] over a caller-built franz-go client.
//   - relay: the loop that leases key buckets, claims, publishes, retries and dead-letters.
//   - outboxtest: the conformance suite every database and driver passes.
//
// Serialisation is the caller's: [NewMessage] uses encoding/json, and any []byte payload
// is accepted as it is.
package outbox
