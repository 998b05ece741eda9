package outboxkafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
)

// PublishTx publishes msgs in one transaction of the unit's producer (see Fence) and
// fills acks as PublishAcked does. Messages that fail their checks before they are sent
// (too large, a missing topic, behind a failed message of their key) are left out; once
// every other message is acknowledged, progress is called with which messages are in
// the transaction, and its result is written as the unit's progress before the commit.
//
// It returns nil when the transaction committed every message, a *outbox.BatchError
// with each message's outcome (nil: committed), or another error when none is known to
// be committed. After any failure of the transaction itself the unit's producer is
// closed, and the unit must be fenced again before its next transaction: whether a
// commit that failed took effect is then known from the progress Fence returns.
func (e *ExactlyOnce) PublishTx(ctx context.Context, unit int, msgs []outbox.Message, acks []outbox.Ack, progress func(sent []bool) []byte) error {
	e.mu.Lock()
	pub := e.units[unit]
	e.mu.Unlock()
	if pub == nil {
		return fmt.Errorf("outboxkafka: unit %d has no producer: fence it first", unit)
	}
	if acks != nil && len(acks) != len(msgs) {
		return fmt.Errorf("outboxkafka: %d acks for %d messages", len(acks), len(msgs))
	}
	cl := pub.client
	if err := cl.BeginTransaction(); err != nil {
		e.Release(unit)
		return fmt.Errorf("outboxkafka: unit %d: begin transaction: %w", unit, err)
	}
	errs, produced := pub.produce(ctx, msgs, acks)
	sent := make([]bool, len(msgs))
	var failed, any bool
	for i := range msgs {
		switch {
		case !produced[i]:
		case errs[i] != nil:
			failed = true
		default:
			sent[i], any = true, true
		}
	}
	var err error
	if !failed && any {
		rec := &kgo.Record{Topic: e.cfg.ProgressTopic, Key: e.progressKey(unit), Value: progress(sent), Partition: e.partition(unit)}
		if err = cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			err = fmt.Errorf("write progress: %w", err)
		}
	}
	if failed || err != nil {
		aborted(errs, sent, err)
		pub.markMissingTopics(ctx, msgs, errs)
		e.abort(ctx, unit, cl)
		return &outbox.BatchError{Errs: errs}
	}
	// The commit runs to its end whatever ctx does: cancelled half-way, its outcome
	// would be unknown.
	if err := cl.EndTransaction(context.WithoutCancel(ctx), kgo.TryCommit); err != nil {
		e.Release(unit) // committed or not, the next Fence's progress tells
		return fmt.Errorf("outboxkafka: unit %d: commit: %w", unit, err)
	}
	if errors.Join(errs...) == nil {
		return nil
	}
	pub.markMissingTopics(ctx, msgs, errs)
	return &outbox.BatchError{Errs: errs}
}

// abortTimeout bounds an abort, which waits for the requests in flight: in an outage
// they may never end, and closing the producer fails them, while the next Fence aborts
// the transaction on the broker.
const abortTimeout = 5 * time.Second

// abort ends a failed transaction. Its producer is closed either way: the next Fence
// starts afresh, whatever state the abort left it in.
func (e *ExactlyOnce) abort(ctx context.Context, unit int, cl *kgo.Client) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if cl.AbortBufferedRecords(actx) == nil {
		_ = cl.EndTransaction(actx, kgo.TryAbort)
	}
	e.Release(unit)
}

// aborted gives each message of an aborted transaction its outcome: its own failure,
// or errAborted for those the broker had acknowledged. cause is a failure of the
// transaction beyond its messages.
func aborted(errs []error, sent []bool, cause error) {
	why := errAborted
	if cause != nil {
		why = fmt.Errorf("%w: %w", errAborted, cause)
	}
	for i := range errs {
		if sent[i] {
			errs[i] = why
		}
	}
}
