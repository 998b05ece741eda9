package outboxkafka_test

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxkafka"
)

func TestNewRejectsUnsafeClients(t *testing.T) {
	t.Parallel()
	client := func(opts ...kgo.Opt) *kgo.Client { // kgo.NewClient does not connect yet
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	if _, err := outboxkafka.New(nil, nil); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Fatalf("nil client: %v", err)
	}
	unsafe := client(kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if _, err := outboxkafka.New(unsafe, nil); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Fatalf("acks=1 client accepted: %v", err)
	}
	if _, err := outboxkafka.New(unsafe, &outboxkafka.Config{AllowUnsafeClient: true}); err != nil {
		t.Fatalf("AllowUnsafeClient: %v", err)
	}
	if _, err := outboxkafka.New(client(outboxkafka.ProducerOpts()...), nil); err != nil {
		t.Fatalf("default client: %v", err)
	}
}
