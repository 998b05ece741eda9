package outboxstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
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

// DeadQuery selects dead events: those that match every field set. The zero DeadQuery
// selects them all. Its JSON form is the filter alone.
type DeadQuery struct {
	// Topic, Type and Key match exactly; Error is a case-insensitive part of the last
	// error.
	Topic string `json:"topic"`
	Type  string `json:"type"`
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

// Dead lists up to limit dead events, oldest first.
func (a *Admin) Dead(ctx context.Context, limit int) ([]DeadEvent, error) {
	evs, _, err := a.findDead(ctx, DeadQuery{}, 0, limit)
	return evs, err
}

// FindDead returns the page of dead events q selects. Pages are read by seq, from
// where the last one ended: each costs its size (and the rows the filter skips), however
// deep into the list it is.
func (a *Admin) FindDead(ctx context.Context, q DeadQuery) (DeadPage, error) {
	limit, err := sqldb.PageLimit(q.Limit)
	if err != nil {
		return DeadPage{}, fmt.Errorf("outbox: find dead: %w: %w", outbox.ErrInvalidConfig, err)
	}
	after, err := sqldb.Cursor(q.After)
	if err != nil {
		return DeadPage{}, fmt.Errorf("outbox: find dead: %w: %w", outbox.ErrInvalidConfig, err)
	}
	evs, seqs, err := a.findDead(ctx, q, after, limit+1)
	if err != nil || len(evs) <= limit {
		return DeadPage{Events: evs}, err
	}
	return DeadPage{Events: evs[:limit], Next: strconv.FormatInt(seqs[limit-1], 10)}, nil
}

// findDead reads up to limit dead events q selects after seq after, and their seqs. A
// key filter has a query of its own, which reads that key's rows alone.
func (a *Admin) findDead(ctx context.Context, q DeadQuery, after int64, limit int) ([]DeadEvent, []int64, error) {
	stmt := a.c.q["list_dead"]
	if q.Key != "" {
		stmt = a.c.q["list_dead_key"]
	}
	sql, args := stmt.Bind(limit, after, q.Topic, q.Type, q.Key, q.Error, sqldb.UnixMicro(q.Since), sqldb.UnixMicro(q.Until))
	rows, err := a.c.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("outbox: list dead: %w", err)
	}
	defer rows.Close()
	var (
		out  []DeadEvent
		seqs []int64
	)
	for rows.Next() {
		var (
			d             DeadEvent
			seq           int64
			written, died sqldb.Time
		)
		if err := rows.Scan(&seq, &d.ID, &d.Topic, &d.Key, &d.Type, &d.Attempts, &d.Error, &written, &died); err != nil {
			return nil, nil, fmt.Errorf("outbox: list dead: %w", err)
		}
		d.WrittenAt, d.DeadAt = time.Time(written), time.Time(died)
		out, seqs = append(out, d), append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("outbox: list dead: %w", err)
	}
	return out, seqs, nil
}

// deadSeqs are the seqs of the dead events among ids, in the order they were written.
// An id that is not a dead event's is left out; one that is not a UUID is an error.
func (a *Admin) deadSeqs(ctx context.Context, ids []string) ([]int64, error) {
	seqs := make([]int64, 0, len(ids))
	for _, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, badID(id)
		}
		var seq int64
		switch err := sqldb.QueryRow(ctx, a.c.db, a.c.q["dead_seq"], []any{u.String()}, &seq); {
		case err == nil:
			seqs = append(seqs, seq)
		case !errors.Is(err, sqldb.ErrNoRow):
			return nil, err
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}
