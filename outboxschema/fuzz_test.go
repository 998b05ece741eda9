package outboxschema_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/avro"
	"github.com/firstunicorn/outbox/outboxschema/protobuf"
	"github.com/firstunicorn/outbox/testkit/shoppb"
)

// FuzzDecode feeds a consumer's Decode what a topic may hold: any bytes. It must never
// panic, and every failure but the registry's silence is ErrSchema, which the inbox
// dead-letters. The registry is franz-go's in-memory fake: this is the decoder's logic,
// not the registry's.
func FuzzDecode(f *testing.F) {
	reg := srfake.New()
	f.Cleanup(reg.Close)
	reg.SeedSchema("orders-value", 1, 1, sr.Schema{Schema: orderAvro})
	reg.SeedSchema("shipments-value", 1, 2, sr.Schema{Schema: shoppb.Proto, Type: sr.TypeProtobuf})
	cl := must(sr.NewClient(sr.URLs(reg.URL())))
	ctx := context.Background()
	s := must(outboxschema.New(cl, nil, must(avro.Codec[orderPlaced](orderAvro)), must(protobuf.Codec[*shoppb.ShipmentSent](shoppb.Proto))))
	f.Add(must(s.Encode(ctx, "orders", order(7))))
	f.Add(must(s.Encode(ctx, "shipments", &shoppb.ShipmentSent{Id: "s", To: &shoppb.Address{City: "Lyon"}})))
	f.Add([]byte{0, 0, 0, 0, 9, 1, 2})
	f.Add([]byte(`{"id":"o-1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var o orderPlaced
		if err := s.Decode(ctx, data, &o); err != nil && !errors.Is(err, outboxschema.ErrSchema) {
			t.Fatalf("Decode into an order: %v, not ErrSchema", err)
		}
		var sh *shoppb.ShipmentSent
		if err := s.Decode(ctx, data, &sh); err != nil && !errors.Is(err, outboxschema.ErrSchema) {
			t.Fatalf("Decode into a shipment: %v, not ErrSchema", err)
		}
	})
}
