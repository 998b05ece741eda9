// Package outboxsql stores outbox messages through database/sql on PostgreSQL: Write adds
// them inside the caller's *sql.Tx, and Store is what the relay claims them from. It
// imports no driver: use pgx's stdlib ("pgx") or lib/pq ("postgres").
package outboxsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/pgstore"
)

// Config names the outbox table and bounds what Write accepts. A nil *Config means all
// defaults.
type Config struct {
	// Schema holds the outbox tables. Default "public".
	Schema string
	// Table is the outbox table; the lease, relay and migration tables are named after
	// it (outbox_leases, ...). Default "outbox". Lower-case letters, digits and '_'.
	Table string
	// Limits bounds keys, payloads and headers. Zero fields take outbox's defaults.
	Limits outbox.Limits
}

func (c *Config) setup() (pgstore.Names, outbox.Limits, error) {
	if c == nil {
		c = &Config{}
	}
	return pgstore.Setup(c.Schema, c.Table, c.Limits)
}

// Execer is what Write needs: *sql.Tx, *sql.DB and *sql.Conn all are. Pass the
// transaction of the domain change, so the event commits or rolls back with it.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Writer writes messages into one outbox table.
type Writer struct {
	names  pgstore.Names
	limits outbox.Limits
}

// NewWriter validates cfg and returns a Writer.
func NewWriter(cfg *Config) (*Writer, error) {
	n, lim, err := cfg.setup()
	if err != nil {
		return nil, err
	}
	return &Writer{names: n, limits: lim}, nil
}

var defaultWriter, _ = NewWriter(nil)

// Write stores msgs in the default outbox table ("public"."outbox") through db. See
// Writer.Write.
func Write(ctx context.Context, db Execer, msgs ...outbox.Message) error {
	return defaultWriter.Write(ctx, db, msgs...)
}

// Write stores msgs through db, normally the caller's transaction: they are published
// once it commits and never if it rolls back. All messages are validated first, and
// written in one statement (one round trip), so either all are stored or none. Empty IDs
// become UUIDv7s and a zero OccurredAt becomes now.
func (w *Writer) Write(ctx context.Context, db Execer, msgs ...outbox.Message) error {
	if pgstore.IsNil(db) {
		return fmt.Errorf("outbox: write: %w: pass the *sql.Tx of the domain change", outbox.ErrNoDB)
	}
	stmts, err := w.names.PrepareInsert(msgs, w.limits, time.Now())
	if err != nil {
		return fmt.Errorf("outbox: write: %w", err)
	}
	for _, st := range stmts {
		if _, err := db.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			if errors.Is(err, sql.ErrTxDone) {
				err = fmt.Errorf("%w: %w", outbox.ErrTxDone, err)
			}
			return fmt.Errorf("outbox: write %d messages: %w", len(msgs), err)
		}
	}
	return nil
}

// Store is the relay's view of the outbox table over a *sql.DB, plus the operator
// commands (Migrate, Status, Dead, Retry, PurgeDead). database/sql has no way to wait
// for notifications, so a relay over this store finds new messages by polling
// (relay.Config.PollInterval); outboxpgx.Store is woken within milliseconds.
type Store struct {
	*pgstore.Store
}

// Status counts the outbox's rows by state.
type Status = pgstore.Status

// DeadEvent is a dead-lettered event.
type DeadEvent = pgstore.DeadEvent

// NewStore validates cfg and returns a Store over db.
func NewStore(db *sql.DB, cfg *Config) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("outboxsql: new store: %w", outbox.ErrNoDB)
	}
	n, _, err := cfg.setup()
	if err != nil {
		return nil, err
	}
	return &Store{pgstore.New(sqlDB{db}, n)}, nil
}
