package inbox

import (
	"context"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/dialect/mysql"
	"github.com/firstunicorn/outbox/internal/dialect/postgres"
	"github.com/firstunicorn/outbox/internal/dialect/sqlite"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/outboxstore"
)

// DefaultTable is the inbox table's name when StoreConfig.Table is empty; its dead
// letters are in inbox_dead.
const DefaultTable = "inbox"

// StoreConfig names the inbox's tables. A nil *StoreConfig means all defaults.
type StoreConfig struct {
	// Schema holds the tables, as outboxstore.Config.Schema: PostgreSQL's schema
	// (default "public"), MySQL's database (default the connection's), empty on SQLite.
	Schema string
	// Table is the inbox table; the dead letters are Table + "_dead". Default
	// DefaultTable. Lower-case letters, digits and '_'.
	Table string
}

// Store is a consumer inbox in a database, through the same drivers as the outbox
// (outboxpgx.New, outboxsql.New): TTx is the transaction type handlers get. A Store is
// safe for concurrent use.
type Store[TTx any] struct {
	drv outboxstore.Driver[TTx]
	db  sqldb.DB
	sql *sqldb.Inbox
}

// NewStore validates cfg for the driver's database. It connects to nothing; Migrate
// creates the tables.
func NewStore[TTx any](drv outboxstore.Driver[TTx], cfg *StoreConfig) (*Store[TTx], error) {
	if drv == nil {
		return nil, fmt.Errorf("inbox: new store: %w: pass outboxpgx.New(pool) or outboxsql.New(db, database)", outbox.ErrNoDB)
	}
	if cfg == nil {
		cfg = &StoreConfig{}
	}
	db, err := drv.DB()
	if err != nil {
		return nil, fmt.Errorf("inbox: new store: %w", err)
	}
	var in *sqldb.Inbox
	switch drv.Database() {
	case outboxstore.PostgreSQL:
		in, err = postgres.Inbox(cfg.Schema, cfg.Table)
	case outboxstore.MySQL:
		in, err = mysql.Inbox(cfg.Schema, cfg.Table)
	case outboxstore.SQLite:
		in, err = sqlite.Inbox(cfg.Schema, cfg.Table)
	default:
		err = fmt.Errorf("%w: unknown database %q: use outboxstore.PostgreSQL, MySQL or SQLite", outbox.ErrInvalidConfig, drv.Database())
	}
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	return &Store[TTx]{drv: drv, db: db, sql: in}, nil
}

// Table is the inbox table's quoted, qualified name.
func (s *Store[TTx]) Table() string { return s.sql.Names.Qualified }

// Migrate creates or updates the inbox's tables and returns the versions it applied.
// Concurrent calls are safe.
func (s *Store[TTx]) Migrate(ctx context.Context) ([]int, error) {
	v, err := s.sql.Migrate(ctx, s.db)
	if err != nil {
		return v, fmt.Errorf("inbox: migrate %s: %w", s.Table(), err)
	}
	return v, nil
}

// DeadEvent is a dead-lettered event, as Dead lists it.
type DeadEvent struct {
	ID         int64
	Group      string
	EventID    string
	Topic      string
	Partition  int32
	Offset     int64
	Key        []byte
	Error      string
	Attempts   int
	DeadAt     time.Time
	RetryAsked bool
}

// Dead lists up to limit dead events of group (all groups when it is empty), oldest
// first.
func (s *Store[TTx]) Dead(ctx context.Context, group string, limit int) ([]DeadEvent, error) {
	sql, args := s.sql.Queries["list_dead"].Bind(group, int64(limit))
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("inbox: list dead: %w", err)
	}
	defer rows.Close()
	var out []DeadEvent
	for rows.Next() {
		var e DeadEvent
		var at sqldb.Time
		var attempts int64
		var part int64
		if err := rows.Scan(&e.ID, &e.Group, &e.EventID, &e.Topic, &part, &e.Offset, &e.Key, &e.Error, &attempts, &at, &e.RetryAsked); err != nil {
			return nil, fmt.Errorf("inbox: list dead: %w", err)
		}
		e.Partition, e.Attempts, e.DeadAt = int32(part), int(attempts), time.Time(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Retry asks the running consumers of the dead event's group to hand it to their
// handler again; it returns 0 when there is no dead event id.
func (s *Store[TTx]) Retry(ctx context.Context, id int64) (int64, error) {
	n, err := sqldb.Exec(ctx, s.db, s.sql.Queries["retry_one"], id)
	if err != nil {
		return 0, fmt.Errorf("inbox: retry %d: %w", id, err)
	}
	return n, nil
}

// RetryAll asks for every dead event of group to be retried, and returns how many.
func (s *Store[TTx]) RetryAll(ctx context.Context, group string) (int64, error) {
	n, err := sqldb.Exec(ctx, s.db, s.sql.Queries["retry_all"], group)
	if err != nil {
		return 0, fmt.Errorf("inbox: retry group %s: %w", group, err)
	}
	return n, nil
}

// PurgeDead deletes group's dead event id, or all of group's with id 0, for good.
func (s *Store[TTx]) PurgeDead(ctx context.Context, group string, id int64) (int64, error) {
	n, err := sqldb.Exec(ctx, s.db, s.sql.Queries["purge_dead"], group, id)
	if err != nil {
		return 0, fmt.Errorf("inbox: purge dead: %w", err)
	}
	return n, nil
}

// CountDead is how many dead events group has.
func (s *Store[TTx]) CountDead(ctx context.Context, group string) (int64, error) {
	var n int64
	if err := sqldb.QueryRow(ctx, s.db, s.sql.Queries["count_dead"], []any{group}, &n); err != nil {
		return 0, fmt.Errorf("inbox: count dead: %w", err)
	}
	return n, nil
}

// purgeBatch bounds one purge statement, so it never holds many locks for long.
const purgeBatch = 1000

// Purge deletes the records of events handled more than window ago, in batches, and
// returns how many.
func (s *Store[TTx]) Purge(ctx context.Context, window time.Duration) (int64, error) {
	var total int64
	for {
		n, err := sqldb.Exec(ctx, s.db, s.sql.Queries["purge"], window.Microseconds(), int64(purgeBatch))
		total += n
		if err != nil {
			return total, fmt.Errorf("inbox: purge: %w", err)
		}
		if n < purgeBatch {
			return total, nil
		}
	}
}
