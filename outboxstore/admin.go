package outboxstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// Migrate creates the outbox's tables, or brings them to the latest version, and
// returns the versions it applied (none when already current). In WAL mode it also
// creates the publication and the replication slot, unless they exist; run it before
// the first Write, since a slot sees only what is written after it was created. It is safe to run
// concurrently and again: migrators wait for each other and apply each version once.
func (s *Store[TTx]) Migrate(ctx context.Context) ([]int, error) {
	applied, err := s.d.Migrate(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("outbox: migrate %s: %w", s.Table(), err)
	}
	if s.wal != nil {
		if err := s.wal.Setup(ctx, s.db); err != nil {
			return applied, fmt.Errorf("outbox: migrate %s: WAL mode: %w", s.Table(), err)
		}
	}
	return applied, nil
}

// Check reports whether the store can run: the database answers, is a version and
// configuration the outbox supports, and the outbox's tables are migrated. Each error
// says what to change. The outbox daemon checks this before it starts.
func (s *Store[TTx]) Check(ctx context.Context) error {
	if err := s.d.Check(ctx, s.db); err != nil {
		return fmt.Errorf("outbox: check %s: %w", s.Table(), err)
	}
	var version int64
	if err := sqldb.QueryRow(ctx, s.db, s.q["version"], nil, &version); err != nil || version == 0 {
		return fmt.Errorf("outbox: check %s: %w: the outbox is not migrated (%v): run 'outbox migrate' or Store.Migrate",
			s.Table(), ErrNotMigrated, err)
	}
	if s.wal != nil {
		return s.checkSlot(ctx)
	}
	return nil
}

// ErrNotMigrated is Check's error when the outbox's tables are missing.
var ErrNotMigrated = errors.New("outbox tables missing")

// Status counts the outbox's rows by state.
type Status struct {
	Pending int64 `json:"pending"`
	// InFlight are the events of the batches relays are publishing right now, counted
	// out of Pending. Only PostgreSQL reports them; elsewhere they stay in Pending.
	InFlight                int64   `json:"in_flight"`
	Dead                    int64   `json:"dead"`
	Published               int64   `json:"published"`
	OldestPendingAgeSeconds float64 `json:"oldest_pending_age_seconds"`
}

// Backlog is what metrics sample of the outbox: Status without the published count, at
// a bounded cost.
type Backlog struct {
	// Pending and Dead stop at the limit Backlog was given.
	Pending, InFlight, Dead int64
	// OldestPendingAge is the age of the oldest pending event, by the database's clock;
	// zero when none is pending.
	OldestPendingAge time.Duration
}

// Backlog returns the outbox's backlog for sampling every few seconds: its counts read at
// most limit index entries each and stop there, and the oldest pending event is found by
// one index probe per key bucket, so its cost stays bounded however large the table.
func (s *Store[TTx]) Backlog(ctx context.Context, limit int64) (Backlog, error) {
	var (
		b   Backlog
		age float64
	)
	if err := sqldb.QueryRow(ctx, s.db, s.q["backlog"], []any{limit}, &b.Pending, &b.InFlight, &b.Dead, &age); err != nil {
		return b, fmt.Errorf("outbox: backlog: %w", err)
	}
	b.OldestPendingAge = time.Duration(age * float64(time.Second))
	return b, nil
}

// Status returns the outbox's counts. It scans the table: an operator's command, not a
// metric to poll every second on a large backlog.
func (s *Store[TTx]) Status(ctx context.Context) (Status, error) {
	var st Status
	err := sqldb.QueryRow(ctx, s.db, s.q["status"], nil, &st.Pending, &st.InFlight, &st.Dead, &st.Published, &st.OldestPendingAgeSeconds)
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
func (s *Store[TTx]) Dead(ctx context.Context, limit int) ([]DeadEvent, error) {
	sql, args := s.q["list_dead"].Bind(limit)
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: list dead: %w", err)
	}
	defer rows.Close()
	var out []DeadEvent
	for rows.Next() {
		var d DeadEvent
		var created sqldb.Time
		if err := rows.Scan(&d.ID, &d.Topic, &d.Key, &d.Type, &d.Attempts, &d.LastError, &created); err != nil {
			return nil, fmt.Errorf("outbox: list dead: %w", err)
		}
		d.CreatedAt = time.Time(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Retry returns dead events to pending with a fresh attempt count: the one with id, or
// all when id is uuid.Nil. It returns how many it requeued. In WAL mode it emits them
// into the stream again, in the order they died, and deletes their rows.
func (s *Store[TTx]) Retry(ctx context.Context, id uuid.UUID) (int64, error) {
	var (
		n   int64
		err error
	)
	if s.wal != nil {
		return s.retryWAL(ctx, id)
	}
	if id == uuid.Nil {
		n, err = sqldb.Exec(ctx, s.db, s.q["retry_all"])
	} else {
		n, err = sqldb.Exec(ctx, s.db, s.q["retry_one"], id.String())
	}
	if err != nil {
		return 0, fmt.Errorf("outbox: retry: %w", err)
	}
	return n, nil
}

// PurgeDead deletes dead events created more than age ago and returns how many.
func (s *Store[TTx]) PurgeDead(ctx context.Context, age time.Duration) (int64, error) {
	n, err := sqldb.Exec(ctx, s.db, s.q["purge_dead"], age.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("outbox: purge dead: %w", err)
	}
	return n, nil
}
