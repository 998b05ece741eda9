package outboxstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// State is where an event is, as Admin.Event finds it.
type State string

const (
	// StatePending: written and waiting for a relay, or for its next attempt. (A relay's
	// batch in flight holds pending rows: the table does not say which.)
	StatePending State = "pending"
	// StatePublished: in Kafka, and kept in the table for Config.Retention.
	StatePublished State = "published"
	// StateDead: the relay gave up on it; Retry sends it again.
	StateDead State = "dead"
	// StateUnknown: no row has the id. It was never written, or it was published and
	// deleted; in WAL mode every event that is not dead is in the WAL, not the table.
	StateUnknown State = "unknown"
)

// EventInfo is one event as the operator sees it.
type EventInfo struct {
	ID    string `json:"id"`
	State State  `json:"state"`
	// The rest is empty for StateUnknown.
	Topic         string            `json:"topic,omitempty"`
	Key           string            `json:"key,omitempty"`
	Type          string            `json:"type,omitempty"`
	AggregateType string            `json:"aggregate_type,omitempty"`
	AggregateID   string            `json:"aggregate_id,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
	Payload       []byte            `json:"payload,omitempty"`
	Attempts      int               `json:"attempts"`
	// Error is the last failed attempt's error.
	Error     string    `json:"error,omitempty"`
	WrittenAt time.Time `json:"written_at,omitzero"`
	// Since is when it entered State: when it died or was published, or was written.
	Since time.Time `json:"since,omitzero"`
}

// Event finds the event id, whatever its state; StateUnknown when no row has it.
func (a *Admin) Event(ctx context.Context, id string) (EventInfo, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return EventInfo{}, fmt.Errorf("outbox: event: %w", badID(id))
	}
	ev := EventInfo{ID: u.String(), State: StateUnknown}
	var (
		headers        string
		written, since sqldb.Time
	)
	err = sqldb.QueryRow(ctx, a.c.db, a.c.q["event"], []any{ev.ID}, &ev.State, &ev.Topic, &ev.Key, &ev.Type,
		&ev.AggregateType, &ev.AggregateID, &ev.Payload, &headers, &ev.Attempts, &ev.Error, &written, &since)
	switch {
	case errors.Is(err, sqldb.ErrNoRow):
		return ev, nil
	case err != nil:
		return EventInfo{}, fmt.Errorf("outbox: event %s: %w", ev.ID, err)
	}
	if ev.Headers, err = sqldb.DecodeHeaders(headers); err != nil {
		return EventInfo{}, fmt.Errorf("outbox: event %s: headers: %w", ev.ID, err)
	}
	ev.WrittenAt, ev.Since = time.Time(written), time.Time(since)
	return ev, nil
}
