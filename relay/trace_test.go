package relay_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// One trace from the writer's request through the relay into Kafka and on to the
// consumer: request → send → process, with the send span describing where the event
// went; a dead-lettered event's span ends in error; a malformed stored traceparent
// starts a trace of its own instead of failing the publish.
func TestTraceRequestSendConsumer(t *testing.T) { testenv.EachDB(t, testTrace) }

func testTrace(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tracer := tp.Tracer("test")

	ctx, req := tracer.Start(context.Background(), "POST /orders")
	missingTopic := testenv.Name("missing")
	write := func(ctx context.Context, m outbox.Message) {
		t.Helper()
		if err := e.Write(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	write(ctx, outbox.Message{Topic: e.topic, Key: []byte("traced"), Payload: testenv.Payload("traced", 0)})
	write(ctx, outbox.Message{Topic: missingTopic, Key: []byte("m"), Payload: []byte("x")})
	req.End()
	write(context.Background(), outbox.Message{Topic: e.topic, Key: []byte("bad"), Payload: testenv.Payload("bad", 0),
		Headers: map[string]string{"traceparent": "00-not-a-trace-01"}}) // as a writer outside Go might

	start(t, e.Store, publisher(t), relay.Config{TracerProvider: tp, MaxAttempts: 1})
	recs := testenv.Consume(t, e.topic, 2, 60*time.Second)
	waitDead(t, e, 1)

	spans := map[string]tracetest.SpanStub{}
	got := sendSpans(t, exp, recs)
	for _, r := range recs {
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		parent := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(h)))
		send := spanByID(t, got, parent.SpanID()) // the record names its send span
		spans[string(r.Key)] = send
		want := map[attribute.Key]string{
			"messaging.system": "kafka", "messaging.operation.type": "send", "messaging.destination.name": e.topic,
			"messaging.message.id": h[outbox.HeaderEventID], "messaging.destination.partition.id": strconv.Itoa(int(r.Partition)),
			"messaging.kafka.offset": strconv.FormatInt(r.Offset, 10), "outbox.outcome": "sent", "outbox.attempt": "1",
		}
		checkAttrs(t, send, want)
		if string(r.Key) == "traced" { // the consumer continues the trace
			_, proc := tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "process",
				trace.WithSpanKind(trace.SpanKindConsumer))
			proc.End()
		}
	}
	got = exp.GetSpans()
	sent, bad := spans["traced"], spans["bad"]
	if sent.Parent.SpanID() != req.SpanContext().SpanID() || sent.SpanContext.TraceID() != req.SpanContext().TraceID() {
		t.Fatalf("send span's parent %v, want the request span %v", sent.Parent, req.SpanContext())
	}
	proc := spanNamed(t, got, "process")
	if proc.Parent.SpanID() != sent.SpanContext.SpanID() || proc.SpanContext.TraceID() != req.SpanContext().TraceID() {
		t.Fatalf("consumer span's parent %v, want the send span %v", proc.Parent, sent.SpanContext)
	}
	if bad.Parent.IsValid() || bad.SpanContext.TraceID() == req.SpanContext().TraceID() {
		t.Fatalf("an event with a malformed traceparent: span %v, parent %v; want a trace of its own", bad.SpanContext, bad.Parent)
	}
	dead := spanNamed(t, got, "send "+missingTopic)
	if dead.Status.Code != codes.Error || dead.Parent.SpanID() != req.SpanContext().SpanID() {
		t.Fatalf("dead-lettered event's span: status %v, parent %v", dead.Status, dead.Parent)
	}
	checkAttrs(t, dead, map[attribute.Key]string{"outbox.outcome": "dead", "outbox.attempt": "1"})
}

func waitDead(t *testing.T, e *env, n int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); e.status(t).Dead < n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not %d dead events after 30s: %+v", n, e.status(t))
		}
	}
}

// sendSpans waits for the send spans of recs and returns the spans exported by then: a
// span ends once its batch is settled, which may come after a consumer read the record.
func sendSpans(t *testing.T, exp *tracetest.InMemoryExporter, recs []*kgo.Record) tracetest.SpanStubs {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, ended := exp.GetSpans(), map[trace.SpanID]bool{}
		for _, s := range got {
			ended[s.SpanContext.SpanID()] = true
		}
		all := true
		for _, r := range recs {
			h := propagation.MapCarrier{}
			for _, kv := range r.Headers {
				h[kv.Key] = string(kv.Value)
			}
			all = all && ended[trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), h)).SpanID()]
		}
		if all || time.Now().After(deadline) {
			return got
		}
	}
}

func spanByID(t *testing.T, spans tracetest.SpanStubs, id trace.SpanID) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.SpanContext.SpanID() == id {
			return s
		}
	}
	t.Fatalf("no span %v among %d", id, len(spans))
	return tracetest.SpanStub{}
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q among %d", name, len(spans))
	return tracetest.SpanStub{}
}

func checkAttrs(t *testing.T, s tracetest.SpanStub, want map[attribute.Key]string) {
	t.Helper()
	have := map[attribute.Key]string{}
	for _, kv := range s.Attributes {
		have[kv.Key] = kv.Value.Emit()
	}
	for k, v := range want {
		if have[k] != v {
			t.Errorf("span %q: %s = %q, want %q (all: %v)", s.Name, k, have[k], v, have)
		}
	}
}
