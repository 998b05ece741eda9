package main

import (
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// countSpans agrees with a full decode of the same request.
func TestCountSpans(t *testing.T) {
	req := &collectortrace.ExportTraceServiceRequest{}
	want := 0
	for r := range 3 {
		rs := &tracepb.ResourceSpans{SchemaUrl: "x"}
		for s := range r + 2 {
			ss := &tracepb.ScopeSpans{SchemaUrl: "y"}
			for range s + 1 {
				ss.Spans = append(ss.Spans, &tracepb.Span{Name: "send orders", TraceId: make([]byte, 16)})
				want++
			}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		req.ResourceSpans = append(req.ResourceSpans, rs)
	}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := countSpans(b); err != nil || n != int64(want) {
		t.Fatalf("countSpans = %d, %v; want %d", n, err, want)
	}
	if _, err := countSpans(b[:len(b)-3]); err == nil {
		t.Fatal("a truncated request was counted without an error")
	}
}
