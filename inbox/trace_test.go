package inbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// TestTraceContinued: the handler runs in a consumer span that continues the trace
// whose traceparent the record carries, and its ctx carries that span.
func TestTraceContinued(t *testing.T) {
	t.Parallel()
	h := newPGX(t)
	topic := testenv.Topic(t, 1, nil)
	rec := event(topic, "k", 1)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: "traceparent", Value: []byte(parent)})
	produce(t, rec, event(topic, "untraced", 2))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	var o outcomes
	cfg := config(topic, &o)
	cfg.TracerProvider = tp
	seen := make(chan trace.SpanContext, 2)
	start(t, h.consumer(t, func(ctx context.Context, x exec, m *inbox.Message) error {
		seen <- trace.SpanContextFromContext(ctx)
		return apply(ctx, x, m)
	}, cfg))
	waitFor(t, 30*time.Second, "2 handled", func() bool { return o.get(inbox.Handled) == 2 })
	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want 2", len(ended))
	}
	traced := ended[0]
	if traced.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		traced = ended[1]
	}
	if traced.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || traced.Parent().SpanID().String() != "00f067aa0ba902b7" ||
		!traced.Parent().IsRemote() || traced.SpanKind() != trace.SpanKindConsumer || traced.Name() != topic+" process" {
		t.Errorf("span %s (%v) parent %v: want a consumer span, child of the record's traceparent", traced.Name(), traced.SpanKind(), traced.Parent())
	}
	if sc := <-seen; !sc.IsValid() {
		t.Error("the handler's ctx carries no span")
	}
}
