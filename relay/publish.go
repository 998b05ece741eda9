package relay

import (
	"context"
	"errors"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// sendFunc sends msgs, filling acks, with Publish's result.
type sendFunc func(ctx context.Context, msgs []outbox.Message, acks []outbox.Ack) error

// ackPublisher is a publisher that also says where each acknowledged message landed
// (outboxkafka.Publisher); the relay puts it on the message's send span.
type ackPublisher interface {
	PublishAcked(ctx context.Context, msgs []outbox.Message, acks []outbox.Ack) error
}

// publish sends the batch's well-formed records, in order, and sorts each into o. Each
// message has a send span; each failure a log record that carries the event's trace id.
// send, when not nil, sends them instead of the publisher's Publish: in transactions.
func (r *Relay) publish(ctx context.Context, recs []source.Record, o *outcome, send sendFunc) {
	msgs := make([]outbox.Message, len(recs))
	attempts := make([]int, len(recs))
	for i := range recs {
		msgs[i], attempts[i] = recs[i].Message, recs[i].Attempts
	}
	spans := r.startSends(ctx, msgs, attempts)
	var acks []outbox.Ack
	pctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	var err error
	switch ap, ok := r.pub.(ackPublisher); {
	case send != nil:
		acks = make([]outbox.Ack, len(msgs))
		err = send(pctx, msgs, acks)
	case ok:
		acks = make([]outbox.Ack, len(msgs))
		err = ap.PublishAcked(pctx, msgs, acks)
	default:
		err = r.pub.Publish(pctx, msgs)
	}
	cancel()
	errs := perMessage(err, len(msgs))
	dead := make([]bool, len(msgs))
	acked := time.Now()
	for i, rec := range recs {
		ev := EventStats{Topic: rec.Message.Topic, Attempt: rec.Attempts + 1}
		switch e := errs[i]; {
		case e == nil:
			o.published = append(o.published, rec.Seq)
			ev.Outcome, ev.CommitToAck = Sent, acked.Sub(rec.WrittenAt)
		case errors.Is(e, outbox.ErrSkipped):
			o.skipped = append(o.skipped, rec.Seq)
			ev.Outcome = Skipped
		default:
			permanent := errors.Is(e, outbox.ErrPermanent)
			o.add(rec.Seq, failKey{msg: e.Error(), permanent: permanent})
			dead[i] = r.dies(permanent, rec.Attempts)
			r.logFailure(&rec, e, dead[i], spans.traceID(i))
			ev.Outcome, ev.Failure = Retried, Transient
			if permanent {
				ev.Failure = Permanent
			}
			if dead[i] {
				ev.Outcome = Dead
			}
		}
		r.event(ev)
	}
	spans.end(acked, recs, errs, acks, dead)
}

// dies reports whether a failed attempt dead-letters its event. In table mode, as the
// store decides in MarkFailed: permanent failures count, up to MaxAttempts. A stream
// cannot pass an event while it retries it, so there a permanent failure is final at
// once, and the stream goes on.
func (r *Relay) dies(permanent bool, attempts int) bool {
	return permanent && (r.stream != nil || attempts+1 >= r.cfg.MaxAttempts)
}

// event reports one event's attempt to the Event hook.
func (r *Relay) event(ev EventStats) {
	if r.cfg.Hooks.Event != nil {
		r.cfg.Hooks.Event(ev)
	}
}

// perMessage spreads Publish's result over its n messages: none failed, each its own
// outcome (a *BatchError), or all failed with err when the publisher knows of no
// message that went out.
func perMessage(err error, n int) []error {
	errs := make([]error, n)
	var be *outbox.BatchError
	switch {
	case err == nil:
	case errors.As(err, &be) && len(be.Errs) == n:
		copy(errs, be.Errs)
	default:
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// logFailure logs a failed message: at debug level when it will be retried (an outage
// fails every message, and the batch's warning says so once), as an error when it is
// dead-lettered.
func (r *Relay) logFailure(rec *source.Record, err error, dead bool, traceID string) {
	args := []any{"event_id", rec.Message.ID.String(), "topic", rec.Message.Topic, "attempt", rec.Attempts + 1, "err", err}
	if traceID != "" {
		args = append(args, "trace_id", traceID)
	}
	if dead {
		r.log.Error("event dead-lettered", args...)
		return
	}
	r.log.Debug("event will be retried", args...)
}
