package relay

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// tracerName is the instrumentation scope of the relay's spans.
const tracerName = "github.com/firstunicorn/outbox/relay"

// Attributes of a send span beyond OpenTelemetry's messaging conventions.
const (
	attrAttempt   = attribute.Key("outbox.attempt")           // 1 for the first attempt
	attrOutcome   = attribute.Key("outbox.outcome")           // sent, retry, dead or skipped
	attrWrittenAt = attribute.Key("outbox.written_to_ack_ms") // from the writer's transaction to the ack
)

// producer is the send spans' kind, made once: an option is an allocation per call.
var producer = trace.WithSpanKind(trace.SpanKindProducer)

// sends are the send spans of one batch's messages, in the order of its msgs; nil
// where no tracing SDK is installed.
type sends struct {
	spans []trace.Span
	msgs  []outbox.Message
}

// startSends starts one send span per message, a child of the trace context its headers
// carry (the writer's request span, stored by Write): the trace then runs request →
// send → consumer, in one trace, as OpenTelemetry's messaging conventions describe for
// a message sent on its own. The span's context replaces the message's traceparent, in
// a copy of its headers, so a consumer continues from the send span. With no tracing
// SDK installed the headers are left as they are, and after the first message, whose
// span shows it, no span is started at all.
func (r *Relay) startSends(ctx context.Context, msgs []outbox.Message, attempts []int) sends {
	s := sends{spans: make([]trace.Span, len(msgs)), msgs: msgs}
	malformed, first := 0, ""
	names := map[string]string{} // "send <topic>", built once per topic of the batch
	for i := range msgs {
		m := &msgs[i]
		name, ok := names[m.Topic]
		if !ok {
			name = "send " + m.Topic
			names[m.Topic] = name
		}
		parent := propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(m.Headers))
		psc := trace.SpanContextFromContext(parent)
		if !psc.IsValid() && m.Headers["traceparent"] != "" {
			if malformed++; malformed == 1 {
				first = m.ID.String()
			}
		}
		_, span := r.tracer.Start(parent, name, producer)
		if !span.IsRecording() && span.SpanContext().Equal(psc) {
			// A tracer that hands back its parent made no span: there is no SDK, and
			// the batch's other messages need no span either.
			span.End()
			break
		}
		s.spans[i] = span
		if !span.IsRecording() { // sampled out: nothing to describe
			continue
		}
		// Set after Start, so that without an SDK the attributes are never built.
		span.SetAttributes(
			semconv.MessagingSystemKafka, semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(m.Topic), semconv.MessagingMessageID(m.ID.String()),
			attrAttempt.Int(attempts[i]+1))
		if sc := span.SpanContext(); sc.IsValid() && sc.SpanID() != psc.SpanID() {
			h := make(map[string]string, len(m.Headers)+2)
			maps.Copy(h, m.Headers)
			delete(h, "tracestate") // the span's own, if any, is injected below
			propagation.TraceContext{}.Inject(trace.ContextWithSpan(ctx, span), propagation.MapCarrier(h))
			m.Headers = h
		}
	}
	if malformed > 0 {
		r.log.Warn("malformed traceparent headers ignored: their events are sent with a new trace",
			"events", malformed, "first_event_id", first)
	}
	return s
}

// traceID is the trace message i belongs to, for its log records: its send span's, or
// without one the writer's, from its headers.
func (s sends) traceID(i int) string {
	var sc trace.SpanContext
	if s.spans[i] != nil {
		sc = s.spans[i].SpanContext()
	} else {
		sc = trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(s.msgs[i].Headers)))
	}
	if sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// end ends each span, at now (when Publish returned), with its message's outcome: errs[i]
// nil means sent (at acks[i] when the publisher reports it); dead[i] says the failure
// dead-letters the message.
func (s sends) end(now time.Time, recs []source.Record, errs []error, acks []outbox.Ack, dead []bool) {
	for i, span := range s.spans {
		if span == nil {
			continue
		}
		if !span.IsRecording() {
			span.End()
			continue
		}
		switch err := errs[i]; {
		case err == nil:
			span.SetAttributes(attrOutcome.String("sent"),
				attrWrittenAt.Float64(float64(now.Sub(recs[i].WrittenAt).Microseconds())/1000))
			if acks != nil {
				span.SetAttributes(semconv.MessagingDestinationPartitionID(strconv.Itoa(int(acks[i].Partition))),
					semconv.MessagingKafkaOffset(int(acks[i].Offset)))
			}
		case errors.Is(err, outbox.ErrSkipped):
			span.SetAttributes(attrOutcome.String("skipped"))
		case dead[i]:
			span.SetAttributes(attrOutcome.String("dead"))
			span.RecordError(err)
			span.SetStatus(codes.Error, "dead-lettered: "+err.Error())
		default:
			span.SetAttributes(attrOutcome.String("retry"))
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End(trace.WithTimestamp(now))
	}
}
