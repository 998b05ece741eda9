package kafkarecord_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/kafkarecord"
)

func TestRecord(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("01890a5d-ac96-774b-bcce-b302099a8057")
	at := time.Date(2026, 11, 27, 10, 0, 0, 5, time.FixedZone("X", 3600))
	r := kafkarecord.New(&outbox.Message{
		ID: id, Topic: "orders", Key: []byte("o-1"), Type: "order.placed", AggregateID: "o-1",
		Payload: []byte("{}"), Headers: map[string]string{"z": "1", "a": "2"}, OccurredAt: at,
	})
	want := []kgo.RecordHeader{
		{Key: "a", Value: []byte("2")}, {Key: "z", Value: []byte("1")},
		{Key: outbox.HeaderEventID, Value: []byte(id.String())},
		{Key: outbox.HeaderEventType, Value: []byte("order.placed")},
		{Key: outbox.HeaderAggregateID, Value: []byte("o-1")},
		{Key: outbox.HeaderOccurredAt, Value: []byte("2026-11-27T09:00:00.000000005Z")},
	}
	if r.Topic != "orders" || string(r.Key) != "o-1" || string(r.Value) != "{}" || len(r.Headers) != len(want) {
		t.Fatalf("record: %+v", r)
	}
	for i, h := range want {
		if r.Headers[i].Key != h.Key || string(r.Headers[i].Value) != string(h.Value) {
			t.Errorf("header %d = %s=%s, want %s=%s", i, r.Headers[i].Key, r.Headers[i].Value, h.Key, h.Value)
		}
	}
}
