package kafkarecord_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/kafkarecord"
)

// BenchmarkRecord measures turning a claimed message into its Kafka record (headers
// included), done once per event on the relay's hot path.
func BenchmarkRecord(b *testing.B) {
	m := &outbox.Message{
		ID: uuid.Must(uuid.NewV7()), Topic: "orders", Key: []byte("order-42"), Type: "order.placed",
		AggregateType: "order", AggregateID: "42", Payload: make([]byte, 1024),
		Headers: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, OccurredAt: time.Now(),
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = kafkarecord.New(m)
	}
}
