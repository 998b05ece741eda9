package outboxstore

import (
	"context"
	"fmt"
	"time"
)

// TopicStatus is one topic's share of the outbox.
type TopicStatus struct {
	Topic   string `json:"topic"`
	Pending int64  `json:"pending"`
	Dead    int64  `json:"dead"`
	// OldestPendingAge is the age of the topic's oldest pending event, by the
	// database's clock; zero when none is pending.
	OldestPendingAge time.Duration `json:"oldest_pending_age"`
}

// Topics counts the pending and dead events of each topic that has any. Like Status it
// reads every row not yet published: an operator's page, not a metric to poll. In WAL
// mode only dead events are in the table.
func (a *Admin) Topics(ctx context.Context) ([]TopicStatus, error) {
	q, args := a.c.q["topics"].Bind()
	rows, err := a.c.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: topics: %w", err)
	}
	defer rows.Close()
	out := []TopicStatus{}
	for rows.Next() {
		var (
			t   TopicStatus
			age float64
		)
		if err := rows.Scan(&t.Topic, &t.Pending, &t.Dead, &age); err != nil {
			return nil, fmt.Errorf("outbox: topics: %w", err)
		}
		t.OldestPendingAge = seconds(age)
		out = append(out, t)
	}
	return out, rows.Err()
}
