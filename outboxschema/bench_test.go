package outboxschema_test

import (
	"context"
	"testing"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/avro"
	"github.com/firstunicorn/outbox/outboxschema/jsonschema"
	"github.com/firstunicorn/outbox/outboxschema/protobuf"
	"github.com/firstunicorn/outbox/testkit/shoppb"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// BenchmarkNewMessage is the writer's cost of an event by format, its schema's id
// cached: what each adds to a Write, against outbox.NewMessage's encoding/json.
func BenchmarkNewMessage(b *testing.B) {
	ctx := context.Background()
	topic := testenv.Name("bench")
	o := order(42)
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := outbox.NewMessage(topic, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	reg := testenv.Registry(b)
	cfg := &outboxschema.Config{AutoRegister: true}
	for _, f := range []struct { // each format on a topic of its own: one subject holds one format
		name  string
		codec outboxschema.Codec
		ev    outbox.Event
	}{
		{"avro", must(avro.Codec[orderPlaced](orderAvro)), o},
		{"jsonschema", must(jsonschema.Codec[orderPlaced](orderJSON)), o},
		{"protobuf", must(protobuf.Codec[*shoppb.ShipmentSent](shoppb.Proto)),
			&shoppb.ShipmentSent{Id: o.ID, WeightGrams: o.Total, To: &shoppb.Address{City: "Lyon"}}},
	} {
		s, topic := must(outboxschema.New(reg, cfg, f.codec)), topic+"_"+f.name
		if _, err := s.NewMessage(ctx, topic, f.ev); err != nil { // registers and caches the id
			b.Fatal(err)
		}
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.NewMessage(ctx, topic, f.ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
