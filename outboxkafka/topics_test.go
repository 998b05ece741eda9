package outboxkafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// A message for a topic that does not exist (auto-creation off) fails before anything
// is sent, so its key's later message, even to a topic that exists, is held back
// instead of overtaking it; other keys are sent. The second batch, with the topic
// still missing, fails the same way; once the topic exists, the message goes.
func TestMissingTopicFailsBeforeSending(t *testing.T) {
	t.Parallel()
	good := testenv.Topic(t, 1, nil)
	missing := testenv.Name("missing")
	pub, err := outboxkafka.New(testenv.Client(t, outboxkafka.ProducerOpts()...), nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []outbox.Message{
		{Topic: missing, Key: []byte("k1"), Payload: []byte("1")},
		{Topic: good, Key: []byte("k1"), Payload: []byte("2")},
		{Topic: good, Key: []byte("k2"), Payload: []byte("3")},
	}
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = pub.Publish(ctx, msgs)
		cancel()
		var be *outbox.BatchError
		if !errors.As(err, &be) {
			t.Fatalf("Publish: %v, want a *BatchError", err)
		}
		if !errors.Is(be.Errs[0], outbox.ErrPermanent) || !errors.Is(be.Errs[0], kerr.UnknownTopicOrPartition) {
			t.Fatalf("message to the missing topic: %v", be.Errs[0])
		}
		if !errors.Is(be.Errs[1], outbox.ErrSkipped) || be.Errs[2] != nil {
			t.Fatalf("the key's next message: %v (want skipped); another key's: %v (want sent)", be.Errs[1], be.Errs[2])
		}
	}
	recs := testenv.ConsumeAll(t, good, 2, time.Second, 10*time.Second)
	for _, r := range recs {
		if string(r.Key) != "k2" {
			t.Fatalf("%s's message %s reached the topic before the key's earlier one", r.Key, r.Value)
		}
	}
	if len(recs) != 2 {
		t.Fatalf("%d records on the good topic, want the other key's, once per batch", len(recs))
	}
	created := testenv.Topic(t, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pub.Publish(ctx, []outbox.Message{{Topic: created, Key: []byte("k1"), Payload: []byte("1")}}); err != nil {
		t.Fatalf("to a topic created meanwhile: %v", err)
	}
}
