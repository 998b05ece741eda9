package outboxstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// DeadEvent is a dead-lettered event as the operator sees it. inbox.DeadEvent has the
// same fields for what the two halves share.
type DeadEvent struct {
	// ID is the event's id, which Retry and PurgeDead take.
	ID       string `json:"id"`
	Topic    string `json:"topic"`
	Key      string `json:"key"`
	Type     string `json:"type"`
	Attempts int    `json:"attempts"`
	// Error is the last attempt's error.
	Error string `json:"error"`
	// WrittenAt is when the writer's transaction stored the event; DeadAt when the relay
	// gave up on it.
	WrittenAt time.Time `json:"written_at"`
	DeadAt    time.Time `json:"dead_at"`
}

// Dead lists up to limit dead events, oldest first.
func (a *Admin) Dead(ctx context.Context, limit int) ([]DeadEvent, error) {
	sql, args := a.c.q["list_dead"].Bind(limit)
	rows, err := a.c.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: list dead: %w", err)
	}
	defer rows.Close()
	var out []DeadEvent
	for rows.Next() {
		var d DeadEvent
		var written, died sqldb.Time
		if err := rows.Scan(&d.ID, &d.Topic, &d.Key, &d.Type, &d.Attempts, &d.Error, &written, &died); err != nil {
			return nil, fmt.Errorf("outbox: list dead: %w", err)
		}
		d.WrittenAt, d.DeadAt = time.Time(written), time.Time(died)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Retry returns the dead event id to pending with a fresh attempt count, and returns how
// many it requeued: 1, or 0 when no dead event has that id. In WAL mode it emits the
// event into the stream again and deletes its row.
func (a *Admin) Retry(ctx context.Context, id string) (int64, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return 0, fmt.Errorf("outbox: retry: %w", badID(id))
	}
	return a.retry(ctx, u)
}

// RetryAll returns every dead event to pending, as Retry does one, in the order they
// died, and returns how many.
func (a *Admin) RetryAll(ctx context.Context) (int64, error) { return a.retry(ctx, uuid.Nil) }

// retry is Retry of id, or RetryAll for uuid.Nil.
func (a *Admin) retry(ctx context.Context, id uuid.UUID) (int64, error) {
	var (
		n   int64
		err error
	)
	switch {
	case a.c.wal != nil:
		n, err = a.c.wal.Retry(ctx, a.c.db, id)
	case id == uuid.Nil:
		n, err = sqldb.Exec(ctx, a.c.db, a.c.q["retry_all"])
	default:
		n, err = sqldb.Exec(ctx, a.c.db, a.c.q["retry_one"], id.String())
	}
	if err != nil {
		return 0, fmt.Errorf("outbox: retry: %w", err)
	}
	return n, nil
}

// PurgeDead deletes the dead event id for good, and returns how many it deleted: 1, or
// 0 when no dead event has that id.
func (a *Admin) PurgeDead(ctx context.Context, id string) (int64, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return 0, fmt.Errorf("outbox: purge dead: %w", badID(id))
	}
	n, err := sqldb.Exec(ctx, a.c.db, a.c.q["purge_dead_one"], u.String())
	if err != nil {
		return 0, fmt.Errorf("outbox: purge dead: %w", err)
	}
	return n, nil
}

// PurgeDeadOlderThan deletes the events that died more than age ago (all of them for
// 0) and returns how many.
func (a *Admin) PurgeDeadOlderThan(ctx context.Context, age time.Duration) (int64, error) {
	n, err := sqldb.Exec(ctx, a.c.db, a.c.q["purge_dead"], age.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("outbox: purge dead: %w", err)
	}
	return n, nil
}
