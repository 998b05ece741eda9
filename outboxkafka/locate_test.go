package outboxkafka_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// A failure names the partition the record was headed for and its leader, so an
// operator reading the relay's log of a cluster fault sees which broker and which
// partitions. The broker refuses a record over the topic's max.message.bytes.
func TestFailureNamesPartitionAndLeader(t *testing.T) {
	t.Parallel()
	small := "200"
	topic := testenv.Topic(t, 2, map[string]*string{"max.message.bytes": &small})
	pub, err := outboxkafka.New(testenv.Client(t, outboxkafka.ProducerOpts()...), nil)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1000)
	_, _ = rand.Read(payload) // random: no compression brings it under 200 bytes
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = pub.Publish(ctx, []outbox.Message{{Topic: topic, Key: []byte("k"), Payload: payload}})
	var be *outbox.BatchError
	if !errors.As(err, &be) || be.Errs[0] == nil {
		t.Fatalf("Publish of 1000 bytes to a topic of 200: %v, want the message failed", err)
	}
	if !errors.Is(be.Errs[0], outbox.ErrPermanent) || !errors.Is(be.Errs[0], kerr.MessageTooLarge) {
		t.Fatalf("failure %v: want permanent, MESSAGE_TOO_LARGE", be.Errs[0])
	}
	msg := be.Errs[0].Error()
	t.Logf("the failure: %s", msg)
	if !strings.Contains(msg, topic+" partition ") || !strings.Contains(msg, "(leader: broker 1)") {
		t.Fatalf("failure %q does not name the topic's partition and its leader, broker 1", msg)
	}
}
