package outboxstore

import (
	"context"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// Retry returns the dead events ids to pending with a fresh attempt count, and returns
// how many it requeued: an id that is not a dead event's counts nothing. Events of one
// key go again in the order they were written. In WAL mode it emits the events into the
// stream again and deletes their rows.
func (a *Admin) Retry(ctx context.Context, ids ...string) (int64, error) {
	seqs, err := a.deadSeqs(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("outbox: retry: %w", err)
	}
	return a.retrySeqs(ctx, seqs)
}

// RetryAll returns every dead event to pending, as Retry does, and returns how many.
func (a *Admin) RetryAll(ctx context.Context) (int64, error) {
	var (
		n   int64
		err error
	)
	if a.c.wal != nil {
		n, err = a.c.wal.Retry(ctx, a.c.db, nil)
	} else {
		n, err = sqldb.Exec(ctx, a.c.db, a.c.q["retry_all"])
	}
	if err != nil {
		return 0, fmt.Errorf("outbox: retry: %w", err)
	}
	return n, nil
}

// RetryMatching retries, as Retry does, every dead event q selects (its After and Limit
// aside), a page at a time, and returns how many.
func (a *Admin) RetryMatching(ctx context.Context, q DeadQuery) (int64, error) {
	return a.eachDeadPage(ctx, q, a.retrySeqs)
}

func (a *Admin) retrySeqs(ctx context.Context, seqs []int64) (int64, error) {
	if len(seqs) == 0 {
		return 0, nil
	}
	var (
		n   int64
		err error
	)
	if a.c.wal != nil {
		n, err = a.c.wal.Retry(ctx, a.c.db, seqs)
	} else {
		n, err = sqldb.Exec(ctx, a.c.db, a.c.q["retry_seqs"], sqldb.Int64s(seqs))
	}
	if err != nil {
		return 0, fmt.Errorf("outbox: retry: %w", err)
	}
	return n, nil
}

// PurgeDead deletes the dead events ids for good, and returns how many it deleted: an
// id that is not a dead event's counts nothing.
func (a *Admin) PurgeDead(ctx context.Context, ids ...string) (int64, error) {
	seqs, err := a.deadSeqs(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("outbox: purge dead: %w", err)
	}
	return a.purgeSeqs(ctx, seqs)
}

// PurgeDeadMatching deletes every dead event q selects (its After and Limit aside), a
// page at a time, and returns how many.
func (a *Admin) PurgeDeadMatching(ctx context.Context, q DeadQuery) (int64, error) {
	return a.eachDeadPage(ctx, q, a.purgeSeqs)
}

func (a *Admin) purgeSeqs(ctx context.Context, seqs []int64) (int64, error) {
	if len(seqs) == 0 {
		return 0, nil
	}
	n, err := sqldb.Exec(ctx, a.c.db, a.c.q["purge_dead_seqs"], sqldb.Int64s(seqs))
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

// eachDeadPage runs act on the seqs of each page of the dead events q selects (its
// After and Limit aside), and adds up what it counts.
func (a *Admin) eachDeadPage(ctx context.Context, q DeadQuery, act func(context.Context, []int64) (int64, error)) (int64, error) {
	return sqldb.EachPage(ctx, 500, func(ctx context.Context, after int64, size int) ([]int64, error) {
		_, seqs, err := a.findDead(ctx, q, after, size)
		return seqs, err
	}, act)
}
