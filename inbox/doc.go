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
// A Store holds the inbox's tables (NewStore, Migrate, and the operator's Dead, Retry,
// PurgeDead); a Consumer (NewConsumer, Run) reads Kafka through it. The record of an
// event is kept for Config.Retention (the dedupe window, default 7 days): an event
// redelivered later than that is handled again.
package inbox
