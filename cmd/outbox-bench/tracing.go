package main

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/trace"
)

// tracingScenario drains the same size of backlog three ways, alternating, twice each:
// events without trace context (the baseline), events written in a traced request with
// the relay's tracing off (no SDK: the default), and the same with it on (the SDK
// sampling every span, exported over OTLP/HTTP to a sink in this process).
func (e *env) tracingScenario(ctx context.Context, rep *Report) error {
	sink, err := startSink()
	if err != nil {
		return err
	}
	defer sink.close()
	defer func() { e.relayEnv = nil }()
	// Write stores this trace context with every event, as in a request.
	traced := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x0b, 0xe2}, SpanID: trace.SpanID{0x0b}, TraceFlags: trace.FlagsSampled,
	}))
	// A queue large enough that no span is dropped: a dropped span costs less than an
	// exported one, and would flatter the figure.
	sdk := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + sink.url, "OTEL_BSP_MAX_QUEUE_SIZE=1000000",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096", "OTEL_BSP_SCHEDULE_DELAY=200"}
	variants := []struct {
		name string
		ctx  context.Context
		env  []string
	}{{"plain", ctx, nil}, {"traced_off", traced, nil}, {"traced_on", traced, sdk}}
	n := e.cfg.DrainEvents / 2
	best := map[string]relayRun{}
	for range 2 {
		for _, v := range variants {
			e.relayEnv = v.env
			run, err := e.drain(v.ctx, n, 1, "tracing", e.cfg.Brokers)
			if err != nil {
				return err
			}
			if b, ok := best[v.name]; !ok || run.elapsed < b.elapsed {
				best[v.name] = run
			}
		}
	}
	plain, off, on := best["plain"], best["traced_off"], best["traced_on"]
	slower := func(r relayRun) float64 { return 100 * (1 - plain.elapsed.Seconds()/r.elapsed.Seconds()) }
	rep.add("tracing.drain_plain", rate(n, plain.elapsed), "events/s", "%d events without trace context, 1 relay, no SDK (best of 2)", n)
	rep.add("tracing.drain_traced_off", rate(n, off.elapsed), "events/s",
		"same events written in a traced request (traceparent stored), no SDK: %.1f%% slower than plain", slower(off))
	rep.add("tracing.drain_traced_on", rate(n, on.elapsed), "events/s",
		"same, the SDK sampling every span, OTLP/HTTP to a sink: %.1f%% slower than plain (target <= 10%%); %d spans exported",
		slower(on), sink.spans.Load())
	for _, v := range []struct {
		name string
		run  relayRun
	}{{"plain", plain}, {"traced_off", off}, {"traced_on", on}} {
		rep.add("tracing.cpu_per_100k_"+v.name, v.run.cpu.Seconds()*100_000/float64(n), "CPU s", "relay process")
	}
	if want := int64(2 * n); sink.spans.Load() < want {
		return fmt.Errorf("tracing: the sink received %d spans of the %d sent events", sink.spans.Load(), want)
	}
	return nil
}
