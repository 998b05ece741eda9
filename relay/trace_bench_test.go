package relay

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// BenchmarkSendSpans measures what tracing adds to publishing a batch of 500 events
// written in a traced request: without an SDK (the global provider, as a program that
// does not trace); with the SDK sampling every span, exported to nowhere (the relay's
// and the SDK's span work); and with the SDK exporting every span over OTLP/HTTP in
// batches, as `outbox relay` does, to a local server that discards them (that work plus
// the exporter's). cpu-ns/event is the process's CPU time, the batch processor's
// goroutine included, per event: what the relay takes from the cores it shares with the
// database and Kafka.
func BenchmarkSendSpans(b *testing.B) {
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	defer func() { _ = sdk.Shutdown(context.Background()) }()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(sink.URL+"/v1/traces"))
	if err != nil {
		b.Fatal(err)
	}
	otlp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(100_000)))
	defer func() { _ = otlp.Shutdown(context.Background()) }()
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"no_sdk", otel.GetTracerProvider()}, {"sdk", sdk}, {"sdk_otlp", otlp}} {
		b.Run(tc.name, func(b *testing.B) {
			r := &Relay{tracer: tc.tp.Tracer(tracerName), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			const n = 500
			recs, msgs := make([]source.Record, n), make([]outbox.Message, n)
			for i := range recs {
				recs[i].Message = outbox.Message{Topic: "orders", ID: uuid.New(), Headers: map[string]string{
					"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
			}
			attempts, errs, acks, dead := make([]int, n), make([]error, n), make([]outbox.Ack, n), make([]bool, n)
			ctx := context.Background()
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				for i := range msgs {
					msgs[i] = recs[i].Message
				}
				r.startSends(ctx, msgs, attempts).end(time.Now(), recs, errs, acks, dead)
			}
			if tp, ok := tc.tp.(*sdktrace.TracerProvider); ok {
				_ = tp.ForceFlush(ctx) // the exporter's work counted too
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N*n), "cpu-ns/event")
		})
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
