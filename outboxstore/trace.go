package outboxstore

import (
	"context"
	"maps"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
)

// traceContext is the W3C trace context (traceparent and, when set, tracestate) of the
// span in ctx, or nil when ctx carries none. Only the OpenTelemetry API is used: with
// no span in ctx it costs one context lookup, and it needs no SDK, so a caller that
// traces its requests has the request's context stored with each event it writes,
// and a consumer of the Kafka record can continue that trace.
func traceContext(ctx context.Context) propagation.MapCarrier {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c
}

// withTrace adds tc to m's headers, in a copy of the caller's map, unless m already
// carries a trace context of its own: an event written on behalf of another trace
// (a relayed or replayed one) keeps the trace it names.
func withTrace(m *outbox.Message, tc propagation.MapCarrier) {
	if tc == nil {
		return
	}
	if len(m.Headers) == 0 {
		m.Headers = tc // shared by the rows of this Write, which only read it
		return
	}
	if _, ok := m.Headers[traceparent]; ok {
		return
	}
	h := make(map[string]string, len(m.Headers)+len(tc))
	maps.Copy(h, m.Headers)
	maps.Copy(h, tc)
	m.Headers = h
}

// traceparent is the W3C header that names the parent span.
const traceparent = "traceparent"
