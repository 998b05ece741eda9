package inbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

// errStopped is handle's answer when its partition stopped before the event was done.
var errStopped = errors.New("inbox: partition stopped")

// errSelfEnded is the error of a handler that committed or rolled back tx itself.
var errSelfEnded = errors.New("the handler committed or rolled back the transaction itself: return instead, and the inbox commits")

// handlerError is an attempt the handler failed: it counts towards MaxAttempts. Other
// errors are the database's, retried for ever.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return "handler: " + e.err.Error() }
func (e *handlerError) Unwrap() error { return e.err }

// handleAll applies recs, in one transaction when there are several and none fails,
// else one transaction each; it returns how many are done.
func (c *Consumer[TTx]) handleAll(ctx context.Context, stop <-chan struct{}, recs []*kgo.Record, lag int64) (int, error) {
	if len(recs) > 1 && c.tryBatch(ctx, recs, lag) {
		return len(recs), nil
	}
	for i, r := range recs {
		if err := c.handle(ctx, stop, r, lag+int64(len(recs)-1-i)); err != nil {
			return i, err
		}
	}
	return len(recs), nil
}

// handle applies r once: handled, found a duplicate, or dead-lettered. It returns an
// error only when the partition stopped (stop closed or ctx cancelled) first.
func (c *Consumer[TTx]) handle(ctx context.Context, stop <-chan struct{}, r *kgo.Record, lag int64) error {
	m := newMessage(r)
	id, err := eventID(c.cfg.EventID, m)
	if err != nil {
		m.ID = recordID(m)
		return c.deadLetter(ctx, stop, m, lag, fmt.Errorf("no usable event id: %w", err))
	}
	m.ID = id
	for attempt, waits := 1, 0; ; waits++ {
		m.Attempt = attempt
		start := time.Now()
		out, err := c.try(ctx, m)
		if err == nil {
			c.event(m, out, start, lag, nil)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var he *handlerError
		if errors.As(err, &he) {
			if errors.Is(err, outbox.ErrPermanent) || attempt >= c.cfg.MaxAttempts {
				return c.deadLetter(ctx, stop, m, lag, err)
			}
			attempt++
		}
		c.event(m, Retried, start, lag, err)
		c.cfg.Logger.Warn("inbox: event failed; retrying", "group", c.cfg.Group, "topic", m.Topic, "partition", m.Partition,
			"offset", m.Offset, "event_id", m.ID, "attempt", m.Attempt, "err", err)
		if !sleep(ctx, stop, c.backoff(waits)) {
			return errStopped
		}
	}
}

// try runs one attempt in a transaction of its own.
func (c *Consumer[TTx]) try(ctx context.Context, m *Message) (Outcome, error) {
	tx, end, err := c.store.begin(ctx)
	if err != nil {
		return "", fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = end.Rollback(context.WithoutCancel(ctx)) }()
	n, err := sqldb.Exec(ctx, end, c.store.a.sql.Queries["record"], c.cfg.Group, m.ID, m.Topic, int64(m.Partition), m.Offset)
	if err != nil {
		return "", fmt.Errorf("record the event: %w", err)
	}
	if n == 0 {
		return Duplicate, nil
	}
	if err := c.call(ctx, tx, m); err != nil {
		_ = end.Rollback(context.WithoutCancel(ctx))
		if !c.reachable(ctx) {
			return "", fmt.Errorf("the handler failed while the database is unreachable: %w", err)
		}
		return "", &handlerError{err}
	}
	if err := end.Commit(ctx); err != nil {
		if errors.Is(err, outbox.ErrTxDone) {
			return "", &handlerError{errSelfEnded}
		}
		return "", fmt.Errorf("commit: %w", err)
	}
	return Handled, nil
}

// call runs the handler in its span, turning a panic into an error.
func (c *Consumer[TTx]) call(ctx context.Context, tx TTx, m *Message) (err error) {
	ctx, span := c.startSpan(ctx, m)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
			c.cfg.Logger.Error("inbox: handler panicked", "topic", m.Topic, "event_id", m.ID, "panic", p, "stack", string(debug.Stack()))
		}
		endSpan(span, err)
	}()
	return c.handler(ctx, tx, m)
}

// reachable tells a handler's own failure from the database's: a handler whose
// statements failed because the database is down has not failed an attempt.
func (c *Consumer[TTx]) reachable(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := c.store.a.db.Exec(ctx, "SELECT 1")
	return err == nil
}

// deadLetter records m as dead with cause, retrying the database for ever.
func (c *Consumer[TTx]) deadLetter(ctx context.Context, stop <-chan struct{}, m *Message, lag int64, cause error) error {
	for waits := 0; ; waits++ {
		start := time.Now()
		err := c.store.a.deadLetter(ctx, c.cfg.Group, m, cause)
		if err == nil {
			c.event(m, Dead, start, lag, cause)
			c.cfg.Logger.Error("inbox: event dead-lettered", "group", c.cfg.Group, "topic", m.Topic, "partition", m.Partition,
				"offset", m.Offset, "event_id", m.ID, "attempts", m.Attempt, "err", cause)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.cfg.Logger.Warn("inbox: dead-lettering failed; retrying", "event_id", m.ID, "err", err)
		if !sleep(ctx, stop, c.backoff(waits)) {
			return errStopped
		}
	}
}

func (c *Consumer[TTx]) event(m *Message, out Outcome, start time.Time, lag int64, err error) {
	if c.cfg.Hooks.Event != nil {
		c.cfg.Hooks.Event(EventStats{Topic: m.Topic, Partition: m.Partition, Outcome: out, Attempt: m.Attempt,
			Duration: time.Since(start), Lag: lag, Err: err})
	}
}

// backoff is the wait after the n-th failure (from 0): Backoff doubled per failure up
// to MaxBackoff, with jitter.
func (c *Consumer[TTx]) backoff(n int) time.Duration {
	d := c.cfg.Backoff << min(n, 20)
	if d <= 0 || d > c.cfg.MaxBackoff {
		d = c.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d; false when stop or ctx ended it.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}
