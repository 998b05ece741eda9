package relay

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// Without an SDK no span is started after the first message, the headers go out as
// the writer stored them, and log records still find each event's trace id.
func TestSendsWithoutSDK(t *testing.T) {
	r := &Relay{tracer: noop.NewTracerProvider().Tracer(tracerName), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	msgs := []outbox.Message{{Topic: "a", Headers: map[string]string{"traceparent": tp}}, {Topic: "a"},
		{Topic: "a", Headers: map[string]string{"traceparent": tp}}}
	s := r.startSends(context.Background(), msgs, make([]int, len(msgs)))
	for i, span := range s.spans {
		if span != nil {
			t.Errorf("message %d has a span without an SDK", i)
		}
	}
	if msgs[0].Headers["traceparent"] != tp || msgs[2].Headers["traceparent"] != tp || len(msgs[1].Headers) != 0 {
		t.Fatalf("headers changed: %v", msgs)
	}
	if got := []string{s.traceID(0), s.traceID(1), s.traceID(2)}; got[0] != "4bf92f3577b34da6a3ce929d0e0e4736" || got[1] != "" || got[2] != got[0] {
		t.Fatalf("trace ids %q", got)
	}
	s.end(time.Now(), make([]source.Record, len(msgs)), make([]error, len(msgs)), nil, make([]bool, len(msgs)))
}
