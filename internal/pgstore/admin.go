package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Status counts the outbox's rows by state.
type Status struct {
	Pending                 int64   `json:"pending"`
	InFlight                int64   `json:"in_flight"`
	Dead                    int64   `json:"dead"`
	Published               int64   `json:"published"`
	OldestPendingAgeSeconds float64 `json:"oldest_pending_age_seconds"`
}

// Status returns the outbox's counts. In flight are the messages of the batches relays
// are publishing right now (reported through pg_stat_activity), counted out of pending.
// It scans the table: an operator's command, not a metric to poll every second on a
// large backlog.
func (s *Store) Status(ctx context.Context) (Status, error) {
	var st Status
	err := queryRow(ctx, s.db, s.q.status, []any{s.names.appName}, &st.Pending, &st.InFlight, &st.Dead, &st.Published, &st.OldestPendingAgeSeconds)
	if err != nil {
		return st, fmt.Errorf("outbox: status: %w", err)
	}
	return st, nil
}

// DeadEvent is a dead-lettered event as the operator sees it.
type DeadEvent struct {
	ID        string    `json:"id"`
	Topic     string    `json:"topic"`
	Key       string    `json:"key"`
	Type      string    `json:"type"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	CreatedAt time.Time `json:"created_at"`
}

// Dead lists up to limit dead-lettered events, oldest first.
func (s *Store) Dead(ctx context.Context, limit int) ([]DeadEvent, error) {
	rows, err := s.db.Query(ctx, s.q.listDead, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: list dead: %w", err)
	}
	defer rows.Close()
	var out []DeadEvent
	for rows.Next() {
		var d DeadEvent
		if err := rows.Scan(&d.ID, &d.Topic, &d.Key, &d.Type, &d.Attempts, &d.LastError, &d.CreatedAt); err != nil {
			return nil, fmt.Errorf("outbox: list dead: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Retry returns dead events to pending with a fresh attempt count: the one with id, or
// all when id is uuid.Nil. It returns how many it requeued.
func (s *Store) Retry(ctx context.Context, id uuid.UUID) (int64, error) {
	var (
		n   int64
		err error
	)
	if id == uuid.Nil {
		n, err = s.db.Exec(ctx, s.q.retryAll)
	} else {
		n, err = s.db.Exec(ctx, s.q.retryOne, id.String())
	}
	if err != nil {
		return 0, fmt.Errorf("outbox: retry: %w", err)
	}
	return n, nil
}

// PurgeDead deletes dead events created more than age ago and returns how many.
func (s *Store) PurgeDead(ctx context.Context, age time.Duration) (int64, error) {
	n, err := s.db.Exec(ctx, s.q.purgeDead, age.Seconds())
	if err != nil {
		return 0, fmt.Errorf("outbox: purge dead: %w", err)
	}
	return n, nil
}
