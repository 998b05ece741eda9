// Package inbox is the consumer half of the outbox: it consumes Kafka topics with a
// consumer group and applies each event to the consumer's database exactly once, in
// order per partition, by running the handler inside a database transaction together
// with the inbox's record of the event (consumer group + event id). A redelivered event
// finds its record and is skipped without calling the handler; Kafka offsets are
// committed only after the transaction commits, so a crash between the two redelivers
// an event that the record then drops.
//
// Delivery underneath stays at-least-once: it is the effects in the consumer's database
// that happen once. Effects outside that transaction (an HTTP call, a file) can still
// happen twice. The handler may write to the outbox with the same transaction, which
// makes consume → change → emit one atomic step.
//
// The two halves are shaped alike. New(driver, *Config) is the inbox in the consumer's
// database, as outboxstore.New is the outbox, through the same drivers; its Admin has
// the operator's Migrate and dead letters (Dead, Retry, RetryAll, PurgeDead,
// PurgeDeadOlderThan) with the meanings of outboxstore.Admin's, per consumer group.
// NewConsumer(store, handler, client, *ConsumerConfig) reads Kafka through it, as
// relay.New publishes an outbox: the client is the caller's, whose options (brokers,
// TLS, SASL) the consumer's own client starts from. The record of an event is kept for
// ConsumerConfig.Retention (the dedupe window, default 7 days): an event redelivered
// later than that is handled again.
package inbox
