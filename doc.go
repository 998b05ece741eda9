// Package outbox implements the transactional outbox pattern for Go services that publish
// to Apache Kafka.
//
// A service stores integration events in its database in the same transaction as its
// domain change, so an event exists if and only if the change committed. A relay then
// publishes the stored events to Kafka at least once, in order per key, and a consumer's
// inbox applies each one exactly once in its own database.
//
// The packages, by who uses them:
//
// The application writes events and consumes them:
//
//   - outbox (this package): [Message], the [Event] helper [NewMessage], the [Publisher]
//     contract, message validation and the sentinel errors.
//   - outboxstore: the outbox in your database (PostgreSQL, MySQL/MariaDB or SQLite):
//     Store.Write in your transaction; Store.Admin for migrations, status and dead
//     letters.
//   - outboxpgx and outboxsql: the drivers, over a pgx pool or a *sql.DB; outboxpgx.Queue
//     writes on your own pgx.Batch, saving the write its round trip.
//   - inbox: the consumer half: each event applied once, in the handler's transaction.
//   - outboxtest: assertions for the application's own tests: what its transaction wrote.
//
// The relay publishes them, in the application's process or as the outbox command:
//
//   - relay: leases key buckets (or reads WAL mode's slot), publishes, retries and
//     dead-letters.
//   - outboxkafka: the [Publisher] over a caller-built franz-go client.
//   - outboxprom: the relay's and the inbox's metrics for Prometheus.
//
// Between the store and the relay, for this module alone: relay/source, the relay's side
// of the store, whose API is unstable.
//
// Serialisation is the caller's: [NewMessage] uses encoding/json, and any []byte payload
// is accepted as it is.
package outbox
