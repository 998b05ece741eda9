package main

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/cmd/internal/dburl"
)

// observability measures what tracing and metrics cost, side by side in one run, each
// variant `rounds` times, alternating, the median of each: the drain of events without trace context
// (the baseline), with the writer's trace context and no SDK in the relay, with the
// SDK sampling every span exported over OTLP/HTTP to a sink in this process, and with
// metrics scraped every second; and one-event transactions without and with an SDK
// span per transaction.
func (e *env) observability(ctx context.Context, rep *Report) error {
	sink, err := startSink()
	if err != nil {
		return err
	}
	defer sink.close()
	if err := e.drainVariants(ctx, rep, sink); err != nil {
		return err
	}
	return e.writeVariants(ctx, rep, sink)
}

// rounds is how often each variant runs: drains of a few seconds on a shared 2-core
// machine vary by 10-15 % from one to the next, so each figure is the median of five.
const rounds = 5

// median is the middle run by elapsed time.
func median(runs []relayRun) relayRun {
	slices.SortFunc(runs, func(a, b relayRun) int { return cmp.Compare(a.elapsed, b.elapsed) })
	return runs[len(runs)/2]
}

func (e *env) drainVariants(ctx context.Context, rep *Report, sink *otlpSink) error {
	defer func() { e.relayEnv, e.extraRelayArgs = nil, nil }()
	// Write stores this trace context with every event, as in a request.
	traced := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x0b, 0xe2}, SpanID: trace.SpanID{0x0b}, TraceFlags: trace.FlagsSampled,
	}))
	// A queue large enough that no span is dropped: a dropped span costs less than an
	// exported one, and would flatter the figure.
	sdk := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + sink.url, "OTEL_BSP_MAX_QUEUE_SIZE=1000000",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096", "OTEL_BSP_SCHEDULE_DELAY=200"}
	metrics, err := freePort()
	if err != nil {
		return err
	}
	variants := []struct {
		name string
		ctx  context.Context
		env  []string
		args []string
	}{
		{"plain", ctx, nil, nil},
		{"traced_off", traced, nil, nil},
		{"traced_on", traced, sdk, nil},
		{"metrics", ctx, nil, []string{"--metrics-addr", metrics}}, // backlog sampled at its default interval
	}
	n := e.cfg.DrainEvents / 2
	runs := map[string][]relayRun{}
	scrapes := &atomic.Int64{}
	for range rounds {
		for _, v := range variants {
			e.relayEnv, e.extraRelayArgs = v.env, v.args
			stop := func() {}
			if v.args != nil {
				stop = scrapeEvery(ctx, "http://"+metrics+"/metrics", time.Second, scrapes)
			}
			run, err := e.drain(v.ctx, n, 1, "observability", e.cfg.Brokers)
			stop()
			if err != nil {
				return err
			}
			runs[v.name] = append(runs[v.name], run)
		}
	}
	mid := map[string]relayRun{}
	for name, rs := range runs {
		mid[name] = median(rs)
	}
	plain := mid["plain"]
	slower := func(r relayRun) float64 { return 100 * (1 - plain.elapsed.Seconds()/r.elapsed.Seconds()) }
	rep.add("observability.drain_plain", rate(n, plain.elapsed), "events/s", "%d events without trace context, 1 relay, no SDK (median of 5)", n)
	rep.add("observability.drain_traced_off", rate(n, mid["traced_off"].elapsed), "events/s",
		"events written in a traced request (traceparent stored), no SDK: %.1f%% slower than plain", slower(mid["traced_off"]))
	rep.add("observability.drain_traced_on", rate(n, mid["traced_on"].elapsed), "events/s",
		"the SDK sampling every span, OTLP/HTTP to a sink: %.1f%% slower than plain (target <= 10%%); %d spans exported",
		slower(mid["traced_on"]), sink.spans.Load())
	rep.add("observability.drain_metrics", rate(n, mid["metrics"].elapsed), "events/s",
		"plain events, /metrics scraped every second, the backlog sampled every 5s (the default): %.1f%% slower than plain (target <= 2%%); %d scrapes",
		slower(mid["metrics"]), scrapes.Load())
	for _, v := range variants {
		rep.add("observability.cpu_per_100k_"+v.name, mid[v.name].cpu.Seconds()*100_000/float64(n), "CPU s", "relay process")
	}
	if want := int64(rounds * n); sink.spans.Load() < want {
		return fmt.Errorf("observability: the sink received %d spans of the %d sent events", sink.spans.Load(), want)
	}
	return nil
}

// writeVariants: one-row business transactions with one event, without and with a span
// of an SDK sampling everything (exported to the sink) in the ctx of each.
func (e *env) writeVariants(ctx context.Context, rep *Report, sink *otlpSink) error {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(sink.url+"/v1/traces"))
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(1_000_000)))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	rates := map[bool][]float64{}
	for range rounds {
		for _, traced := range []bool{false, true} {
			var tracer trace.Tracer
			if traced {
				tracer = tp.Tracer("outbox-bench")
			}
			r, err := e.oneEventTxs(ctx, tracer)
			if err != nil {
				return err
			}
			rates[traced] = append(rates[traced], r)
		}
	}
	mid := map[bool]float64{}
	for traced, rs := range rates {
		slices.Sort(rs)
		mid[traced] = rs[len(rs)/2]
	}
	rep.add("observability.write_plain", mid[false], "tx/s", "one-row transactions with 1 event, %d writers, no span (median of 5)", e.cfg.Writers)
	rep.add("observability.write_traced_on", mid[true], "tx/s",
		"same, each in a span of the SDK sampling everything: %.1f%% fewer transactions/s (target <= 5%%)", 100*(1-mid[true]/mid[false]))
	return nil
}

// oneEventTxs runs one-row business transactions with one event each for the bench's
// duration and returns their rate; with a tracer, each runs in a span of its own.
func (e *env) oneEventTxs(ctx context.Context, tracer trace.Tracer) (float64, error) {
	if err := e.resetSchema(ctx); err != nil {
		return 0, err
	}
	table, insert := ordersTable(e.db.Admin.Database())
	if err := e.db.Exec(ctx, table); err != nil {
		return 0, fmt.Errorf("create the orders table: %w", err)
	}
	payload := make([]byte, e.cfg.PayloadBytes)
	var txs atomic.Int64
	elapsed, err := e.forWriters(ctx, func(ctx context.Context, w, i int) error {
		if tracer != nil {
			var span trace.Span
			ctx, span = tracer.Start(ctx, "POST /orders")
			defer span.End()
		}
		err := e.db.InTx(ctx, func(tx dburl.Tx) error {
			if err := tx.Exec(ctx, insert, "c", 1999); err != nil {
				return err
			}
			return tx.Write(ctx, outbox.Message{Topic: "orders", Key: fmt.Appendf(nil, "o%d-%d", w, i), Payload: payload})
		})
		if err == nil {
			txs.Add(1)
		}
		return err
	})
	return rate(int(txs.Load()), elapsed), err
}

// scrapeEvery GETs url every interval, counting the answers, until the returned stop.
func scrapeEvery(ctx context.Context, url string, interval time.Duration, scrapes *atomic.Int64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_ = resp.Body.Close()
				scrapes.Add(1)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
