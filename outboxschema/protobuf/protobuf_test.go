package protobuf_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/protobuf"
	"github.com/firstunicorn/outbox/testkit/shoppb"
	"github.com/firstunicorn/outbox/testkit/shopv1pb"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A message written with version 2 of its schema is read by a consumer holding version
// 1 and by one holding version 2; the wire format carries the message's index.
func TestProtobufEvolution(t *testing.T) {
	t.Parallel()
	reg := testenv.Registry(t)
	ctx := context.Background()
	topic := testenv.Name("shipments")
	writer := must(outboxschema.New(reg, &outboxschema.Config{AutoRegister: true}, must(protobuf.Codec[*shoppb.ShipmentSent](shoppb.Proto))))
	sent := &shoppb.ShipmentSent{Id: "s-1", WeightGrams: 1200, To: &shoppb.Address{City: "Lyon"}, Carrier: "DHL",
		Parcels: []*shoppb.ShipmentSent_Parcel{{Number: 1}, {Number: 2}}}
	msg, err := writer.NewMessage(ctx, topic, sent)
	if err != nil {
		t.Fatal(err)
	}
	// Magic byte, 4-byte id, then the index [1] (the second message of the file) as
	// its count 1 and 1, zigzag varints: 0x02 0x02.
	if string(msg.Key) != "s-1" || msg.Payload[0] != 0 || msg.Payload[5] != 2 || msg.Payload[6] != 2 {
		t.Fatalf("message %+v: want the aggregate's key and the wire format with index [1]", msg)
	}
	old := must(outboxschema.New(reg, nil, must(protobuf.Codec[*shopv1pb.ShipmentSent](shopv1pb.Proto))))
	var got1 *shopv1pb.ShipmentSent
	if err := old.Decode(ctx, msg.Payload, &got1); err != nil || got1.GetId() != "s-1" || got1.GetTo().GetCity() != "Lyon" || len(got1.GetParcels()) != 2 {
		t.Fatalf("version 1's reader: %v, %v", got1, err)
	}
	var got2 *shoppb.ShipmentSent
	if err := writer.Decode(ctx, msg.Payload, &got2); err != nil || !proto.Equal(got2, sent) {
		t.Fatalf("version 2's reader: %v, %v", got2, err)
	}
}

func TestProtobufIndexAndRefusals(t *testing.T) {
	t.Parallel()
	c := must(protobuf.Codec[*shoppb.ShipmentSent_Parcel](shoppb.Proto))
	if !slices.Equal(c.Index(), []int{1, 0}) || c.Name() != "shop.ShipmentSent.Parcel" {
		t.Fatalf("nested message: index %v, name %s; want [1 0], shop.ShipmentSent.Parcel", c.Index(), c.Name())
	}
	reg := testenv.Registry(t)
	s := must(outboxschema.New(reg, &outboxschema.Config{AutoRegister: true}, must(protobuf.Codec[*shoppb.ShipmentSent](shoppb.Proto))))
	for _, tc := range []struct {
		m    *shoppb.ShipmentSent
		want string
	}{
		{&shoppb.ShipmentSent{Id: "\xff"}, "field shop.ShipmentSent.id:"},
		{&shoppb.ShipmentSent{Id: "s", To: &shoppb.Address{City: "L\xffon"}}, "field shop.Address.city:"},
	} {
		_, err := s.Encode(context.Background(), testenv.Name("shipments"), tc.m)
		if !errors.Is(err, outboxschema.ErrSchema) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("invalid UTF-8 in a string: %v; want ErrSchema naming the field (%s)", err, tc.want)
		}
	}
}
