package outboxstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
)

// Write stores msgs through tx, the transaction of the domain change: they are
// published once it commits and never if it rolls back. In WAL mode they are logical
// decoding messages in tx's WAL, in one statement, rather than rows. All messages are validated
// first, then written in one statement (one round trip; more only for very many), so
// either all are stored or none. Empty IDs become UUIDv7s and a zero OccurredAt
// becomes now. With pgx, outboxpgx.Queue puts the same statement on the batch of the
// caller's own statements instead, saving its round trip.
//
// When ctx carries an OpenTelemetry span (the caller's request span), its W3C trace
// context is stored with each message as the traceparent and tracestate headers, unless
// the message already has a traceparent; the relay sends them as Kafka headers, so a
// consumer continues the request's trace. Headers count towards Limits.MaxHeadersBytes.
//
// Errors: outbox.ErrInvalidMessage names the message, the field and the fix;
// outbox.ErrNoDB is a nil tx; outbox.ErrTxDone is a tx already committed or rolled back.
func (s *Store[TTx]) Write(ctx context.Context, tx TTx, msgs ...outbox.Message) error {
	q, err := s.drv.Tx(tx)
	if err != nil {
		return fmt.Errorf("outbox: write: %w", err)
	}
	if len(msgs) == 0 {
		return nil
	}
	rows, err := s.c.prepare(ctx, msgs)
	if err != nil {
		return err
	}
	if s.c.wal != nil {
		err = s.c.wal.Emit(ctx, q, rows, 0)
	} else {
		err = s.c.d.Insert(ctx, q, rows)
	}
	if err != nil {
		return fmt.Errorf("outbox: write %d messages: %w", len(msgs), err)
	}
	return nil
}

// prepare copies msgs, adds the trace context of ctx's span to each, fills in the
// defaults and validates them: what every way of writing does before its statement.
func (c *core) prepare(ctx context.Context, msgs []outbox.Message) ([]outbox.Message, error) {
	rows := make([]outbox.Message, len(msgs))
	copy(rows, msgs)
	now := time.Now()
	tc := traceContext(ctx)
	for i := range rows {
		withTrace(&rows[i], tc)
		if err := prepare(&rows[i], c.limits, now); err != nil {
			return nil, fmt.Errorf("outbox: write: message %d: %w", i, err)
		}
	}
	return rows, nil
}

// prepare fills in the defaults Write applies (ID, OccurredAt) and validates m.
func prepare(m *outbox.Message, lim outbox.Limits, now time.Time) error {
	if m.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("outbox: new UUIDv7: %w", err)
		}
		m.ID = id
	}
	if m.OccurredAt.IsZero() {
		m.OccurredAt = now
	}
	return m.Validate(lim)
}
