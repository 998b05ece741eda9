package conformance

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// Write stores the trace context of the span in its ctx with each message, as W3C
// headers, and leaves a message's own traceparent and the caller's map alone.
func testWriteTraceContext[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ts, err := trace.ParseTraceState("vendor=abc")
	must(t, err)
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
		TraceState: ts,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	mine := map[string]string{"content-type": "application/json"}
	own := map[string]string{"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}
	must(t, h.InTx(ctx, func(tx TTx) error {
		return s.Write(ctx, tx,
			outbox.Message{Topic: "orders", Key: []byte("k"), Headers: mine},
			outbox.Message{Topic: "orders", Key: []byte("k"), Headers: own})
	}))
	must(t, h.InTx(context.Background(), func(tx TTx) error {
		return s.Write(context.Background(), tx, outbox.Message{Topic: "orders", Key: []byte("k")})
	}))
	recs := claim(t, testenv.Table(t, s), source.ClaimParams{})
	if len(recs) != 3 {
		t.Fatalf("claimed %d of 3", len(recs))
	}
	h0 := recs[0].Message.Headers
	if h0["traceparent"] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" || h0["tracestate"] != "vendor=abc" ||
		h0["content-type"] != "application/json" {
		t.Fatalf("headers of a message written in a span: %v", h0)
	}
	if len(mine) != 1 {
		t.Fatalf("Write changed the caller's headers: %v", mine)
	}
	if h1 := recs[1].Message.Headers; h1["traceparent"] != own["traceparent"] || h1["tracestate"] != "" {
		t.Fatalf("a message's own traceparent was replaced: %v", h1)
	}
	if h2 := recs[2].Message.Headers; len(h2) != 0 {
		t.Fatalf("headers of a message written without a span: %v", h2)
	}
}
