package relay

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
)

// BenchmarkSendSpans measures what tracing adds to publishing a batch of 500 events
// written in a traced request: without an SDK (the global provider, as a program that
// does not trace), and with the SDK sampling every span (exported to nowhere, so the
// figure is the relay's and the SDK's work, not an exporter's).
func BenchmarkSendSpans(b *testing.B) {
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	defer func() { _ = sdk.Shutdown(context.Background()) }()
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"no_sdk", otel.GetTracerProvider()}, {"sdk", sdk}} {
		b.Run(tc.name, func(b *testing.B) {
			r := &Relay{tracer: tc.tp.Tracer(tracerName), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			const n = 500
			recs, msgs := make([]Record, n), make([]outbox.Message, n)
			for i := range recs {
				recs[i].Message = outbox.Message{Topic: "orders", Headers: map[string]string{
					"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
			}
			attempts, errs, acks, dead := make([]int, n), make([]error, n), make([]outbox.Ack, n), make([]bool, n)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				for i := range msgs {
					msgs[i] = recs[i].Message
				}
				r.startSends(ctx, msgs, attempts).end(time.Now(), recs, errs, acks, dead)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}
