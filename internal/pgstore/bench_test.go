package pgstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
)

// BenchmarkPrepareInsert measures validating 100 events and building their INSERT: the
// CPU a Write adds to the caller's transaction before its one round trip.
func BenchmarkPrepareInsert(b *testing.B) {
	n, _ := NewNames("", "")
	msgs := make([]outbox.Message, 100)
	for i := range msgs {
		msgs[i] = outbox.Message{Topic: "orders", Key: fmt.Appendf(nil, "k%d", i), Payload: make([]byte, 1024),
			Headers: map[string]string{"traceparent": "00-abc-def-01"}}
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.PrepareInsert(msgs, outbox.Limits{}, now); err != nil {
			b.Fatal(err)
		}
	}
}
