package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// The daemon exports its spans to a real trace backend when the standard environment
// asks for it: Jaeger's query API returns the writer's trace with the relay's send
// span in it, a child of the writer's request span.
func TestTracesReachJaeger(t *testing.T) {
	query, otlp := testenv.Jaeger(t)
	c := newCluster(t, "postgres")
	writerSvc, relaySvc := testenv.Name("writer"), testenv.Name("relay")

	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(otlp+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(writerSvc))))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, req := tp.Tracer("test").Start(context.Background(), "POST /orders")
	if err := c.o.Write(ctx, outbox.Message{Topic: c.topic, Key: []byte("o-1"), Payload: []byte(`{"total":1999}`)}); err != nil {
		t.Fatal(err)
	}
	req.End()

	p := startProc(t, append(c.env, "OTEL_EXPORTER_OTLP_ENDPOINT="+otlp, "OTEL_SERVICE_NAME="+relaySvc),
		"relay", "--log-level", "debug", "--lease-ttl", "3s")
	testenv.Consume(t, c.topic, 1, 30*time.Second)
	p.stop(t, 20*time.Second) // flushes the relay's spans

	traceID := req.SpanContext().TraceID().String()
	var tr jaegerTrace
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		tr = getTrace(t, query, traceID)
		if tr.span("send "+c.topic) != nil && tr.span("POST /orders") != nil || time.Now().After(deadline) {
			break
		}
	}
	send, request := tr.span("send "+c.topic), tr.span("POST /orders")
	if send == nil || request == nil {
		t.Fatalf("trace %s in Jaeger: %+v; want the request and the relay's send span", traceID, tr)
	}
	if svc := tr.Processes[send.ProcessID].ServiceName; svc != relaySvc {
		t.Fatalf("send span from service %q, want the relay's %q", svc, relaySvc)
	}
	if len(send.References) != 1 || send.References[0].RefType != "CHILD_OF" || send.References[0].SpanID != request.SpanID {
		t.Fatalf("send span references %+v, want CHILD_OF the request span %s", send.References, request.SpanID)
	}
	if tag := send.tag("messaging.system"); tag != "kafka" {
		t.Fatalf("messaging.system = %q", tag)
	}
}

// jaegerTrace is a trace as Jaeger's query API returns it.
type jaegerTrace struct {
	Spans     []jaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	ProcessID     string `json:"processID"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

func (tr jaegerTrace) span(name string) *jaegerSpan {
	for i := range tr.Spans {
		if tr.Spans[i].OperationName == name {
			return &tr.Spans[i]
		}
	}
	return nil
}

func (s *jaegerSpan) tag(key string) string {
	for _, tg := range s.Tags {
		if tg.Key == key {
			return fmt.Sprint(tg.Value)
		}
	}
	return ""
}

func getTrace(t *testing.T, query, id string) jaegerTrace {
	t.Helper()
	resp, err := http.Get(query + "/api/traces/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Data []jaegerTrace }
	if resp.StatusCode == http.StatusNotFound {
		return jaegerTrace{}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/traces/%s: %s %v", id, resp.Status, err)
	}
	if len(body.Data) == 0 {
		return jaegerTrace{}
	}
	return body.Data[0]
}
