// Package kafkarecord turns an outbox message into the Kafka record the relay sends:
// shared by outboxkafka and the benchmark's produce limit, so both send the same bytes.
package kafkarecord

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
)

// New builds the Kafka record for m: key, value, m's headers in name order, then the
// outbox headers.
func New(m *outbox.Message) *kgo.Record { return WithRoom(m, 0) }

// WithRoom is New with room for n more headers, which a caller that adds some (the
// CloudEvents binding) appends without copying the others.
func WithRoom(m *outbox.Message, n int) *kgo.Record {
	names := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	hs := make([]kgo.RecordHeader, 0, len(names)+5+n)
	for _, k := range names {
		hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(m.Headers[k])})
	}
	hs = append(hs, kgo.RecordHeader{Key: outbox.HeaderEventID, Value: []byte(m.ID.String())})
	for _, h := range [...]struct{ k, v string }{
		{outbox.HeaderEventType, m.Type}, {outbox.HeaderAggregateType, m.AggregateType}, {outbox.HeaderAggregateID, m.AggregateID},
	} {
		if h.v != "" {
			hs = append(hs, kgo.RecordHeader{Key: h.k, Value: []byte(h.v)})
		}
	}
	hs = append(hs, kgo.RecordHeader{Key: outbox.HeaderOccurredAt, Value: []byte(m.OccurredAt.UTC().Format(time.RFC3339Nano))})
	return &kgo.Record{Topic: m.Topic, Key: m.Key, Value: m.Payload, Headers: hs}
}

// Size is an upper bound of the record's encoded size in a batch.
func Size(r *kgo.Record) int {
	n := 128 + len(r.Key) + len(r.Value) // batch header and varints, generously
	for _, h := range r.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}
