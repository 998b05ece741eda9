package avro_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/avro"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// OrderPlaced is the writer's type, at version 2 of its schema.
type OrderPlaced struct {
	ID       string `avro:"id"`
	Total    int64  `avro:"total"`
	Currency string `avro:"currency"`
}

func (OrderPlaced) EventType() string     { return "order.placed" }
func (OrderPlaced) AggregateType() string { return "order" }
func (o OrderPlaced) AggregateID() string { return o.ID }

// OrderPlacedV1 is a consumer that still holds version 1.
type OrderPlacedV1 struct {
	ID    string `avro:"id"`
	Total int64  `avro:"total"`
}

const (
	v1 = `{"type":"record","name":"OrderPlaced","namespace":"shop","fields":[
		{"name":"id","type":"string"},{"name":"total","type":"long"}]}`
	v2 = `{"type":"record","name":"OrderPlaced","namespace":"shop","fields":[
		{"name":"id","type":"string"},{"name":"total","type":"long"},
		{"name":"currency","type":"string","default":"EUR"}]}`
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A value encoded with version 2 of its schema, registered under the topic's subject,
// is read by a consumer of version 1 and by one of version 2.
func TestAvroEvolution(t *testing.T) {
	t.Parallel()
	reg := testenv.Registry(t)
	ctx := context.Background()
	topic := testenv.Name("orders")
	// Version 1 first, then 2: the subject's default compatibility (backward) admits it.
	for _, s := range []string{v1, v2} {
		if _, err := reg.CreateSchema(ctx, topic+"-value", sr.Schema{Schema: s}); err != nil {
			t.Fatal(err)
		}
	}
	writer := must(outboxschema.New(reg, nil, must(avro.Codec[OrderPlaced](v2))))
	msg, err := writer.NewMessage(ctx, topic, OrderPlaced{ID: "o-1", Total: 1999, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Key) != "o-1" || msg.Type != "order.placed" || msg.Payload[0] != 0 {
		t.Fatalf("message %+v: want the aggregate's key, the type and the wire format's magic byte", msg)
	}
	old := must(outboxschema.New(reg, nil, must(avro.Codec[OrderPlacedV1](v1))))
	var got1 OrderPlacedV1
	if err := old.Decode(ctx, msg.Payload, &got1); err != nil || got1 != (OrderPlacedV1{ID: "o-1", Total: 1999}) {
		t.Fatalf("version 1's reader: %+v, %v", got1, err)
	}
	var got2 OrderPlaced
	if err := writer.Decode(ctx, msg.Payload, &got2); err != nil || got2.Currency != "USD" {
		t.Fatalf("version 2's reader: %+v, %v", got2, err)
	}
}

func TestAvroRefusals(t *testing.T) {
	t.Parallel()
	reg := testenv.Registry(t)
	ctx := context.Background()
	topic := testenv.Name("orders")
	s := must(outboxschema.New(reg, nil, must(avro.Codec[OrderPlaced](v2))))
	_, err := s.NewMessage(ctx, topic, OrderPlaced{ID: "o-1"})
	if !errors.Is(err, outboxschema.ErrSchema) || !strings.Contains(err.Error(), `subject "`+topic+`-value" does not hold the schema`) {
		t.Fatalf("unregistered schema: %v; want ErrSchema naming the subject", err)
	}
	auto := must(outboxschema.New(reg, &outboxschema.Config{AutoRegister: true}, must(avro.Codec[OrderPlaced](v2))))
	if _, err := auto.NewMessage(ctx, topic, OrderPlaced{ID: "o-1"}); err != nil {
		t.Fatalf("AutoRegister: %v", err)
	}
	if _, err := s.NewMessage(ctx, topic, OrderPlaced{ID: "o-1"}); err != nil {
		t.Fatalf("registered by now: %v", err)
	}
	// A value the schema refuses fails in the writer's hands, naming the field.
	type Shipment struct {
		Status string `avro:"status"`
	}
	ship := must(outboxschema.New(reg, &outboxschema.Config{AutoRegister: true}, must(avro.Codec[Shipment](
		`{"type":"record","name":"Shipment","fields":[{"name":"status","type":{"type":"enum","name":"Status","symbols":["PACKED","SENT"]}}]}`))))
	if _, err := ship.Encode(ctx, topic+"-ship", Shipment{Status: "LOST"}); !errors.Is(err, outboxschema.ErrSchema) ||
		!strings.Contains(err.Error(), "Status: avro: unknown enum symbol: LOST") {
		t.Fatalf("a value outside its schema: %v; want ErrSchema naming the field", err)
	}
	var wrong struct{ X int }
	if err := s.Decode(ctx, []byte("{}"), &wrong); !errors.Is(err, outboxschema.ErrSchema) {
		t.Fatalf("a type without codec: %v", err)
	}
	var o OrderPlaced
	if err := s.Decode(ctx, []byte(`{"id":1}`), &o); !errors.Is(err, outboxschema.ErrSchema) || !strings.Contains(err.Error(), "wire format") {
		t.Fatalf("JSON bytes: %v; want a wire-format error", err)
	}
	if _, err := outboxschema.New(nil, nil); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Fatalf("nil client: %v", err)
	}
}
