package outboxschema_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/avro"
	"github.com/firstunicorn/outbox/testkit/faultproxy"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// A registry that does not answer fails the writes that need a schema not yet used,
// saying so, and nothing else: once a schema's id is cached, writes and reads go on
// without it. A consumer's handler retries such a failure rather than dead-letter.
func TestRegistryDown(t *testing.T) {
	t.Parallel()
	testenv.Registry(t) // up, or the test skips (fails under CI)
	u := must(url.Parse(testenv.RegistryURL()))
	proxy := must(faultproxy.Listen("127.0.0.1:0", u.Host))
	t.Cleanup(func() { _ = proxy.Close() })
	u.Host = proxy.Addr()
	cl := must(sr.NewClient(sr.URLs(u.String())))
	serde := must(outboxschema.New(cl, &outboxschema.Config{AutoRegister: true}, must(avro.Codec[orderPlaced](orderAvro))))
	topic := testenv.Name("orders")
	write := func() (outbox.Message, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return serde.NewMessage(ctx, topic, order(1))
	}

	proxy.Blackhole()
	_, err := write()
	if err == nil || errors.Is(err, outboxschema.ErrSchema) || !strings.Contains(err.Error(), "the registry did not answer") {
		t.Fatalf("first write with the registry down: %v; want a failure that names the registry, not ErrSchema", err)
	}
	t.Logf("first write with the registry down: %v", err)
	proxy.Heal()
	msg, err := write()
	if err != nil {
		t.Fatalf("registry back: %v", err)
	}
	var got orderPlaced
	if err := serde.Decode(context.Background(), msg.Payload, &got); err != nil || got != order(1) {
		t.Fatalf("decode: %+v, %v", got, err)
	}

	proxy.Blackhole()
	if _, err := write(); err != nil {
		t.Fatalf("registry down, schema id cached: %v", err)
	}
	if err := serde.Decode(context.Background(), msg.Payload, &got); err != nil {
		t.Fatalf("registry down, reader cached: %v", err)
	}
	// A new reader needs the registry: its handler's failure is retried, not dead.
	fresh := must(outboxschema.New(cl, nil, must(avro.Codec[orderPlaced](orderAvro))))
	h := outboxschema.Handler(fresh, func(context.Context, any, *inbox.Message, orderPlaced) error { return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h(ctx, nil, &inbox.Message{Value: msg.Payload}); err == nil || errors.Is(err, outbox.ErrPermanent) {
		t.Fatalf("handler with the registry down: %v; want a failure to retry", err)
	}
}
