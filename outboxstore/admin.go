package outboxstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

// Admin is an outbox as its operator sees it: its tables and their migrations, what
// waits in it, the dead letters, and WAL mode's replication slot. The outbox command's
// migrate, status, dead, retry and purge verbs are its methods. Get it from
// Store.Admin; it is the same whatever the driver, and safe for concurrent use.
type Admin struct{ c *core }

// Database is the database the outbox is in.
func (a *Admin) Database() Database { return a.c.database }

// Mode is how the outbox's events travel to the relay.
func (a *Admin) Mode() Mode {
	if a.c.wal != nil {
		return WALMode
	}
	return TableMode
}

// Table is the outbox table's quoted, qualified name, as the database knows it.
func (a *Admin) Table() string { return a.c.d.Names().Qualified }

// Migrate creates the outbox's tables, or brings them to the latest version, and
// returns the versions it applied (none when already current). In WAL mode it also
// creates the publication and the replication slot, unless they exist; run it before
// the first Write, since a slot sees only what is written after it was created. It is
// safe to run concurrently and again: migrators wait for each other and apply each
// version once.
func (a *Admin) Migrate(ctx context.Context) ([]int, error) {
	applied, err := a.c.d.Migrate(ctx, a.c.db)
	if err != nil {
		return nil, fmt.Errorf("outbox: migrate %s: %w", a.Table(), err)
	}
	if a.c.wal != nil {
		st, err := a.c.wal.Setup(ctx, a.c.db)
		if err != nil {
			return applied, fmt.Errorf("outbox: migrate %s: WAL mode: %w", a.Table(), err)
		}
		if err := a.failoverSlot(ctx, st); err != nil {
			return applied, fmt.Errorf("outbox: migrate %s: WAL mode: %w", a.Table(), err)
		}
	}
	return applied, nil
}

// Check reports whether the outbox can run: the database answers, is a version and
// configuration the outbox supports, and the outbox's tables are migrated. Each error
// says what to change. The outbox command's relay checks this before it starts.
func (a *Admin) Check(ctx context.Context) error {
	if err := a.c.d.Check(ctx, a.c.db); err != nil {
		return fmt.Errorf("outbox: check %s: %w", a.Table(), err)
	}
	var version int64
	if err := sqldb.QueryRow(ctx, a.c.db, a.c.q["version"], nil, &version); err != nil || version == 0 {
		return fmt.Errorf("outbox: check %s: %w: the outbox is not migrated (%v): run 'outbox migrate' or Admin.Migrate",
			a.Table(), ErrNotMigrated, err)
	}
	if a.c.wal != nil {
		return a.checkSlot(ctx)
	}
	return nil
}

// ErrNotMigrated is Check's error when the outbox's tables, or WAL mode's slot, are
// missing.
var ErrNotMigrated = errors.New("outbox tables missing")

// Status counts the outbox's events by state.
type Status struct {
	Pending int64 `json:"pending"`
	// InFlight are the events of the batches relays are publishing right now, counted
	// out of Pending. Only PostgreSQL reports them; elsewhere they stay in Pending.
	InFlight  int64 `json:"in_flight"`
	Dead      int64 `json:"dead"`
	Published int64 `json:"published"`
	// OldestPendingAge is the age of the oldest pending event, by the database's clock;
	// zero when none is pending.
	OldestPendingAge time.Duration `json:"oldest_pending_age"`
}

// Status returns the outbox's counts. It scans the table: an operator's command, not a
// metric to poll every second on a large backlog (Backlog is that).
func (a *Admin) Status(ctx context.Context) (Status, error) {
	var (
		st  Status
		age float64
	)
	err := sqldb.QueryRow(ctx, a.c.db, a.c.q["status"], nil, &st.Pending, &st.InFlight, &st.Dead, &st.Published, &age)
	if err != nil {
		return st, fmt.Errorf("outbox: status: %w", err)
	}
	st.OldestPendingAge = seconds(age)
	return st, nil
}

// Backlog is what metrics sample of the outbox: Status without the published count, at
// a bounded cost.
type Backlog struct {
	// Pending and Dead stop at the limit Backlog was given.
	Pending  int64 `json:"pending"`
	InFlight int64 `json:"in_flight"`
	Dead     int64 `json:"dead"`
	// OldestPendingAge is the age of the oldest pending event, by the database's clock;
	// zero when none is pending.
	OldestPendingAge time.Duration `json:"oldest_pending_age"`
}

// Backlog returns the outbox's backlog for sampling every few seconds: its counts read at
// most limit index entries each and stop there, and the oldest pending event is found by
// one index probe per key bucket, so its cost stays bounded however large the table.
func (a *Admin) Backlog(ctx context.Context, limit int64) (Backlog, error) {
	var (
		b   Backlog
		age float64
	)
	if err := sqldb.QueryRow(ctx, a.c.db, a.c.q["backlog"], []any{limit}, &b.Pending, &b.InFlight, &b.Dead, &age); err != nil {
		return b, fmt.Errorf("outbox: backlog: %w", err)
	}
	b.OldestPendingAge = seconds(age)
	return b, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// badID is the error of an id that cannot be an outbox event's.
func badID(id string) error {
	return fmt.Errorf("%w: %q is not an event id: use the UUID that Dead lists", outbox.ErrInvalidConfig, id)
}
