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
// match every field set. The zero DeadQuery selects them all. Its JSON form is the
// filter alone.
type DeadQuery struct {
	// Topic and Key match exactly; Error is a case-insensitive part of the last error.
	Topic string `json:"topic"`
	Key   string `json:"key"`
	Error string `json:"error"`
	// Since and Until bound when the events died: Since included, Until not. The zero
	// time leaves that end open.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// After is the Next of the page before, to read the page after it.
	After string `json:"-"`
	// Limit is the most events a page holds; 0 means 100, at most 1000.
	Limit int `json:"-"`
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
	evs, _, err := a.findDead(ctx, group, DeadQuery{}, 0, limit)
	return evs, err
}

// FindDead returns the page of group's dead events (of all groups when it is empty)
// that q selects, a page costing its size however deep, as the outbox's FindDead.
func (a *Admin) FindDead(ctx context.Context, group string, q DeadQuery) (DeadPage, error) {
	limit, err := sqldb.PageLimit(q.Limit)
	if err != nil {
		return DeadPage{}, fmt.Errorf("inbox: find dead: %w: %w", outbox.ErrInvalidConfig, err)
	}
	after, err := sqldb.Cursor(q.After)
	if err != nil {
		return DeadPage{}, fmt.Errorf("inbox: find dead: %w: %w", outbox.ErrInvalidConfig, err)
	}
	evs, rows, err := a.findDead(ctx, group, q, after, limit+1)
	if err != nil || len(evs) <= limit {
		return DeadPage{Events: evs}, err
	}
	return DeadPage{Events: evs[:limit], Next: strconv.FormatInt(rows[limit-1], 10)}, nil
}

// findDead reads up to limit of group's dead events q selects after row after, and
// their row ids.
func (a *Admin) findDead(ctx context.Context, group string, q DeadQuery, after int64, limit int) ([]DeadEvent, []int64, error) {
	sql, args := a.sql.Queries["list_dead"].Bind(group, int64(limit), after, q.Topic, q.Key, q.Error,
		sqldb.UnixMicro(q.Since), sqldb.UnixMicro(q.Until))
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
// dead events.
func (a *Admin) eachDeadPage(ctx context.Context, group string, q DeadQuery, stmt string) (int64, error) {
	if group == "" {
		return 0, fmt.Errorf("inbox: %w: no group: name the consumer group to act on", outbox.ErrInvalidConfig)
	}
	return sqldb.EachPage(ctx, 500, func(ctx context.Context, after int64, size int) ([]int64, error) {
		_, rows, err := a.findDead(ctx, group, q, after, size)
		return rows, err
	}, func(ctx context.Context, rows []int64) (int64, error) {
		n, err := sqldb.Exec(ctx, a.db, a.sql.Queries[stmt], group, sqldb.Int64s(rows))
		if err != nil {
			return n, fmt.Errorf("inbox: %s: %w", stmt, err)
		}
		return n, nil
	})
}
