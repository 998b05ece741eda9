package outbox

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Message is one integration event as stored in the outbox and published to Kafka.
type Message struct {
	// ID identifies the event end to end; it is sent as the outbox-event-id header so
	// consumers can drop the duplicates at-least-once delivery allows. Zero = a UUIDv7
	// assigned by Write.
	ID uuid.UUID
	// Topic is the Kafka topic. Required; validated as Kafka validates topic names.
	Topic string
	// Key is the Kafka record key. Messages with the same key are published in the order
	// they were committed and land on the same partition (murmur2, as the Java client).
	// Nil = no key: no ordering promise, spread over partitions.
	Key []byte
	// Type is the event type, e.g. "order.created"; sent as the outbox-event-type header.
	Type string
	// AggregateType and AggregateID name the entity the event is about; sent as headers.
	AggregateType string
	AggregateID   string
	// Payload is the record value, as the caller serialised it.
	Payload []byte
	// Headers are extra Kafka record headers (trace context, content type...). Header
	// names starting with "outbox-" are reserved.
	Headers map[string]string
	// OccurredAt is when the event happened. Zero = the time Write is called.
	OccurredAt time.Time
}

// Publisher publishes messages to a broker. Implementations: outboxkafka.Publisher.
type Publisher interface {
	// Publish sends msgs and waits until each one is acknowledged or has failed. It
	// returns nil when all were acknowledged. When only some failed it returns a
	// *BatchError holding each message's outcome; any other error means none of the
	// messages is known to be sent. Messages with the same key must reach the broker in
	// the order given.
	Publish(ctx context.Context, msgs []Message) error
}

// Ack is where the broker stored an acknowledged message. Publishers that know it
// report it through a PublishAcked method (outboxkafka.Publisher does); the relay then
// puts it on the message's send span.
type Ack struct {
	Partition int32
	Offset    int64
}
