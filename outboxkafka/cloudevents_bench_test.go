package outboxkafka

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
)

// BenchmarkCloudEventsRecord is the relay's cost of turning a message into its record,
// plain and as a CloudEvent in each mode: what --cloudevents-source adds per event.
func BenchmarkCloudEventsRecord(b *testing.B) {
	m := &outbox.Message{
		ID: uuid.Must(uuid.NewV7()), Topic: "orders", Key: []byte("order-42"), Type: "order.placed",
		AggregateType: "order", AggregateID: "42", Payload: []byte(`{"id":"order-42","total":1999,"currency":"EUR"}`),
		Headers: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, OccurredAt: time.Now(),
	}
	for _, tc := range []struct {
		name string
		ce   *CloudEvents
	}{
		{"plain", nil},
		{"binary", &CloudEvents{Source: "/orders"}},
		{"structured", &CloudEvents{Source: "/orders", Structured: true}},
	} {
		ce, err := tc.ce.check()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ce.record(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
