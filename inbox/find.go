package inbox

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

// DeadQuery selects dead events, as outboxstore.DeadQuery does the outbox's: those that
// match every field set. The zero DeadQuery selects them all.
type DeadQuery struct {
	// Topic and Key match exactly; Error is a case-insensitive part of the last error.
	Topic, Key, Error string
	// Since and Until bound when the events died: Since included, Until not. The zero
	// time leaves that end open.
	Since, Until time.Time
	// After is the Next of the page before, to read the page after it.
	After string
	// Limit is the most events a page holds; 0 means 100, at most 1000.
	Limit int
}

// DeadPage is one page of dead events, oldest first.
type DeadPage struct {
	Events []DeadEvent `json:"events"`
	// Next reads the following page as DeadQuery.After; empty on the last page.
	Next string `json:"next,omitempty"`
}

// Dead lists up to limit dead events of group (of all groups when it is empty), oldest
// first.
func (a *Admin) Dead(ctx context.Context, group string, limit int) ([]DeadEvent, error) {
	evs, _, err := a.findDead(ctx, group, DeadQuery{}, limit)
	return evs, err
}

// FindDead returns the page of group's dead events (of all groups when it is empty)
// that q selects, a page costing its size however deep, as the outbox's FindDead.
func (a *Admin) FindDead(ctx context.Context, group string, q DeadQuery) (DeadPage, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return DeadPage{}, fmt.Errorf("inbox: find dead: %w: limit %d: use 1 to 1000", outbox.ErrInvalidConfig, limit)
	}
	evs, rows, err := a.findDead(ctx, group, q, limit+1)
	if err != nil || len(evs) <= limit {
		return DeadPage{Events: evs}, err
	}
	return DeadPage{Events: evs[:limit], Next: strconv.FormatInt(rows[limit-1], 10)}, nil
}

// findDead returns the dead events and their row ids.
func (a *Admin) findDead(ctx context.Context, group string, q DeadQuery, limit int) ([]DeadEvent, []int64, error) {
	var after int64
	if q.After != "" {
		var err error
		if after, err = strconv.ParseInt(q.After, 10, 64); err != nil || after < 0 {
			return nil, nil, fmt.Errorf("inbox: find dead: %w: After %q is not a page's Next", outbox.ErrInvalidConfig, q.After)
		}
	}
	sql, args := a.sql.Queries["list_dead"].Bind(group, int64(limit), after, q.Topic, q.Key, q.Error, micros(q.Since), micros(q.Until))
	rs, err := a.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("inbox: list dead: %w", err)
	}
	defer rs.Close()
	var (
		out  []DeadEvent
		rows []int64
	)
	for rs.Next() {
		var (
			e            DeadEvent
			at           sqldb.Time
			row, part, n int64
			key          []byte
		)
		if err := rs.Scan(&row, &e.Group, &e.ID, &e.Topic, &part, &e.Offset, &key, &e.Error, &n, &at, &e.RetryAsked); err != nil {
			return nil, nil, fmt.Errorf("inbox: list dead: %w", err)
		}
		e.Partition, e.Key, e.Attempts, e.DeadAt = int32(part), string(key), int(n), time.Time(at)
		out, rows = append(out, e), append(rows, row)
	}
	if err := rs.Err(); err != nil {
		return nil, nil, fmt.Errorf("inbox: list dead: %w", err)
	}
	return out, rows, nil
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// RetryMatching asks for every dead event of group that q selects (its After and Limit
// aside) to be retried, as Retry does, and returns how many it asked for anew.
func (a *Admin) RetryMatching(ctx context.Context, group string, q DeadQuery) (int64, error) {
	return a.eachDeadPage(ctx, group, q, "retry_rows")
}

// PurgeDeadMatching deletes every dead event of group that q selects (its After and
// Limit aside) and returns how many.
func (a *Admin) PurgeDeadMatching(ctx context.Context, group string, q DeadQuery) (int64, error) {
	return a.eachDeadPage(ctx, group, q, "purge_dead_rows")
}

// eachDeadPage runs the statement stmt on the rows of each page q selects of group's
// dead events. The pages go by row id, so what the statement changes does not move the
// next page.
func (a *Admin) eachDeadPage(ctx context.Context, group string, q DeadQuery, stmt string) (int64, error) {
	if group == "" {
		return 0, fmt.Errorf("inbox: %w: no group: name the consumer group to act on", outbox.ErrInvalidConfig)
	}
	const page = 500
	var total int64
	q.After = ""
	for {
		_, rows, err := a.findDead(ctx, group, q, page)
		if err != nil || len(rows) == 0 {
			return total, err
		}
		n, err := sqldb.Exec(ctx, a.db, a.sql.Queries[stmt], group, sqldb.Int64s(rows))
		total += n
		if err != nil {
			return total, fmt.Errorf("inbox: %s: %w", stmt, err)
		}
		if len(rows) < page {
			return total, nil
		}
		q.After = strconv.FormatInt(rows[len(rows)-1], 10)
	}
}
