package jsonschema_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/jsonschema"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

type Refund struct {
	OrderID string `json:"order_id"`
	Cents   int    `json:"cents"`
	Reason  string `json:"reason,omitempty"`
}

func (Refund) EventType() string { return "refund.issued" }

// RefundV1 is a consumer that knows no reason.
type RefundV1 struct {
	OrderID string `json:"order_id"`
	Cents   int    `json:"cents"`
}

const refundSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"Refund","type":"object",
	"properties":{"order_id":{"type":"string"},"cents":{"type":"integer","minimum":1},"reason":{"type":"string"}},
	"required":["order_id","cents"]}`

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestJSONSchema(t *testing.T) {
	t.Parallel()
	reg := testenv.Registry(t)
	ctx := context.Background()
	topic := testenv.Name("refunds")
	s := must(outboxschema.New(reg, &outboxschema.Config{AutoRegister: true, Subjects: outboxschema.TopicRecordName},
		must(jsonschema.Codec[Refund](refundSchema))))
	msg, err := s.NewMessage(ctx, topic, Refund{OrderID: "o-1", Cents: 500, Reason: "late"})
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := reg.Subjects(ctx)
	if err != nil || !strings.Contains(strings.Join(subjects, " "), topic+"-Refund") {
		t.Fatalf("subjects %v, %v: want %s-Refund (TopicRecordName, the schema's title)", subjects, err, topic)
	}
	old := must(outboxschema.New(reg, nil, must(jsonschema.Codec[RefundV1](refundSchema))))
	var got RefundV1
	if err := old.Decode(ctx, msg.Payload, &got); err != nil || got != (RefundV1{OrderID: "o-1", Cents: 500}) {
		t.Fatalf("an older reader: %+v, %v", got, err)
	}
	_, err = s.NewMessage(ctx, topic, Refund{OrderID: "o-1", Cents: 0})
	if !errors.Is(err, outboxschema.ErrSchema) || !strings.Contains(err.Error(), "/cents") {
		t.Fatalf("a refund of 0 cents: %v; want ErrSchema naming /cents", err)
	}
	t.Logf("a refund of 0 cents: %v", err)
	untitled := must(outboxschema.New(reg, &outboxschema.Config{Subjects: outboxschema.RecordName},
		must(jsonschema.Codec[Refund](`{"type":"object"}`))))
	if _, err := untitled.NewMessage(ctx, topic, Refund{}); !errors.Is(err, outboxschema.ErrSchema) || !strings.Contains(err.Error(), "a title") {
		t.Fatalf("RecordName without a title: %v", err)
	}
}
