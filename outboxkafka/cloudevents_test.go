package outboxkafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/testkit/cloudevent"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

func TestCloudEventsConfig(t *testing.T) {
	t.Parallel()
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	for _, tc := range []struct {
		ce   outboxkafka.CloudEvents
		want string // in the error; "" = accepted
	}{
		{outboxkafka.CloudEvents{Source: "/orders"}, ""},
		{outboxkafka.CloudEvents{Source: "https://orders.example.com", Structured: true, ContentType: "application/avro"}, ""},
		{outboxkafka.CloudEvents{}, "CloudEvents.Source is required"},
		{outboxkafka.CloudEvents{Source: "%zz"}, "not a URI reference"},
		{outboxkafka.CloudEvents{Source: "/orders", ContentType: "json;;"}, "CloudEvents.ContentType"},
	} {
		_, err := outboxkafka.New(cl, &outboxkafka.Config{CloudEvents: &tc.ce})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.ce, err)
		case tc.want != "" && (!errors.Is(err, outbox.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: got %v, want ErrInvalidConfig naming %q", tc.ce, err, tc.want)
		}
	}
}

// Our records, read back from Kafka, parse with the CloudEvents Go SDK's Kafka binding
// as valid CloudEvents with the attributes each message implies, in both modes.
func TestCloudEventsParsedBySDK(t *testing.T) {
	t.Parallel()
	for _, structured := range []bool{false, true} {
		name := map[bool]string{false: "binary", true: "structured"}[structured]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testCloudEvents(t, structured)
		})
	}
}

func testCloudEvents(t *testing.T, structured bool) {
	topic := testenv.Topic(t, 1, nil)
	pub, err := outboxkafka.New(testenv.Client(t), &outboxkafka.Config{CloudEvents: &outboxkafka.CloudEvents{Source: "/orders", Structured: structured}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	msgs := []outbox.Message{
		{ID: uuid.New(), Topic: topic, Key: []byte("o-1"), Type: "order.placed", AggregateID: "o-1",
			Payload: []byte(`{"total":42}`), OccurredAt: at,
			Headers: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Not-An-Attribute": "x", "type": "reserved"}},
		{ID: uuid.New(), Topic: topic, Key: []byte("o-2"), Type: "order.scanned", Payload: []byte{0xff, 0x00, 0x01}, OccurredAt: at,
			Headers: map[string]string{"content-type": "application/octet-stream"}},
		{ID: uuid.New(), Topic: topic, Key: []byte("o-3"), Payload: []byte(`{}`), OccurredAt: at}, // no type
	}
	err = pub.Publish(context.Background(), msgs)
	var be *outbox.BatchError
	if !errors.As(err, &be) || be.Errs[0] != nil || be.Errs[1] != nil || !errors.Is(be.Errs[2], outbox.ErrPermanent) ||
		!strings.Contains(be.Errs[2].Error(), "set outbox.Message.Type") {
		t.Fatalf("want the typeless message refused, permanently, naming the fix; got %v", err)
	}
	recs := testenv.Consume(t, topic, 2, 30*time.Second)
	for i, r := range recs {
		ev, err := cloudevent.Parse(r)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		m := msgs[i]
		if ev.ID() != m.ID.String() || ev.Source() != "/orders" || ev.Type() != m.Type || ev.Subject() != m.AggregateID ||
			!ev.Time().Equal(at) || ev.SpecVersion() != "1.0" {
			t.Errorf("record %d: attributes %s", i, ev)
		}
		if string(ev.Data()) != string(m.Payload) {
			t.Errorf("record %d: data %q, want %q", i, ev.Data(), m.Payload)
		}
		if got, want := ev.DataContentType(), map[int]string{0: "application/json", 1: "application/octet-stream"}[i]; got != want {
			t.Errorf("record %d: datacontenttype %q, want %q", i, got, want)
		}
		if i == 0 {
			ext := ev.Extensions()
			if ext["traceparent"] != m.Headers["traceparent"] || len(ext) != 1 {
				t.Errorf("extensions %v: want traceparent only (Not-An-Attribute and type are not extensions)", ext)
			}
		}
		id, ok := testenv.Header(r, outbox.HeaderEventID)
		switch {
		case structured && (!ok || id != m.ID.String()):
			t.Errorf("record %d: structured mode keeps the outbox headers: %s = %q", i, outbox.HeaderEventID, id)
		case !structured && ok:
			t.Errorf("record %d: binary mode carries the id once, as ce_id, but %s is there too", i, outbox.HeaderEventID)
		}
		seen := map[string]bool{}
		for _, h := range r.Headers {
			if seen[h.Key] {
				t.Errorf("record %d: header %s twice", i, h.Key)
			}
			seen[h.Key] = true
		}
	}
}
