package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// Admin is an inbox as its operator sees it: its tables and the dead letters of each
// consumer group, with the same methods and meanings as outboxstore.Admin, each taking
// the group. The outbox command's inbox verbs are its methods. Get it from
// Store.Admin; it is the same whatever the driver, and safe for concurrent use.
type Admin struct {
	db  sqldb.DB
	sql *sqldb.Inbox
}

// Table is the inbox table's quoted, qualified name.
func (a *Admin) Table() string { return a.sql.Names.Qualified }

// Migrate creates or updates the inbox's tables and returns the versions it applied.
// Concurrent calls are safe.
func (a *Admin) Migrate(ctx context.Context) ([]int, error) {
	v, err := a.sql.Migrate(ctx, a.db)
	if err != nil {
		return v, fmt.Errorf("inbox: migrate %s: %w", a.Table(), err)
	}
	return v, nil
}

// ErrNotMigrated is Check's error when the inbox's tables are missing.
var ErrNotMigrated = errors.New("inbox tables missing")

// Check reports whether the inbox's tables are there, as outboxstore's Check does for
// the outbox.
func (a *Admin) Check(ctx context.Context) error {
	if _, err := a.CountDead(ctx, ""); err != nil {
		return fmt.Errorf("inbox: check %s: %w: %v: run 'outbox inbox migrate' or Admin.Migrate", a.Table(), ErrNotMigrated, err)
	}
	return nil
}

// DeadEvent is an event a consumer group gave up on, as the operator sees it. It has
// outboxstore.DeadEvent's fields for what the two halves share.
type DeadEvent struct {
	// ID is the event's id, the group's dedupe key, which Retry and PurgeDead take.
	ID        string `json:"id"`
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Attempts  int    `json:"attempts"`
	// Error is the last attempt's error.
	Error  string    `json:"error"`
	DeadAt time.Time `json:"dead_at"`
	// RetryAsked is set from Retry until a running consumer of the group takes the event.
	RetryAsked bool `json:"retry_asked"`
}

// Retry asks the running consumers of group to hand its dead events ids to their
// handler again, in the order they died, and returns how many it asked for anew: an
// id the group has no dead event of, or one already asked for, counts nothing.
func (a *Admin) Retry(ctx context.Context, group string, ids ...string) (int64, error) {
	var total int64
	for _, id := range ids {
		n, err := sqldb.Exec(ctx, a.db, a.sql.Queries["retry_one"], group, id)
		if err != nil {
			return total, fmt.Errorf("inbox: retry %s of %s: %w", id, group, err)
		}
		total += n
	}
	return total, nil
}

// RetryAll asks for every dead event of group to be retried, as Retry does one, and
// returns how many.
func (a *Admin) RetryAll(ctx context.Context, group string) (int64, error) {
	n, err := sqldb.Exec(ctx, a.db, a.sql.Queries["retry_all"], group)
	if err != nil {
		return 0, fmt.Errorf("inbox: retry group %s: %w", group, err)
	}
	return n, nil
}

// PurgeDead deletes group's dead events ids for good, and returns how many it deleted:
// an id the group has no dead event of counts nothing.
func (a *Admin) PurgeDead(ctx context.Context, group string, ids ...string) (int64, error) {
	var total int64
	for _, id := range ids {
		n, err := sqldb.Exec(ctx, a.db, a.sql.Queries["purge_dead_one"], group, id)
		if err != nil {
			return total, fmt.Errorf("inbox: purge dead: %w", err)
		}
		total += n
	}
	return total, nil
}

// PurgeDeadOlderThan deletes group's events that died more than age ago (all of them
// for 0) and returns how many.
func (a *Admin) PurgeDeadOlderThan(ctx context.Context, group string, age time.Duration) (int64, error) {
	n, err := sqldb.Exec(ctx, a.db, a.sql.Queries["purge_dead"], group, age.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("inbox: purge dead: %w", err)
	}
	return n, nil
}

// CountDead is how many dead events group has (all groups when it is empty).
func (a *Admin) CountDead(ctx context.Context, group string) (int64, error) {
	var n int64
	if err := sqldb.QueryRow(ctx, a.db, a.sql.Queries["count_dead"], []any{group}, &n); err != nil {
		return 0, fmt.Errorf("inbox: count dead: %w", err)
	}
	return n, nil
}
