package outboxstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/dialect/postgres"
)

// Mode is how Write hands events to the relay.
type Mode string

// The modes. Both keep dead letters in the outbox table, so Dead, Retry and PurgeDead
// (and the outbox command's dead, retry and purge) work alike.
const (
	// TableMode stores each event as a row of the outbox table; relays claim the rows
	// through leased key buckets (relay.New). The default, on every database.
	TableMode Mode = "table"
	// WALMode writes each event into PostgreSQL's WAL as a logical decoding message
	// (pg_logical_emit_message), with no row; one relay at a time streams them from a
	// replication slot in commit order (Stream, relay.NewStream). PostgreSQL only, with
	// wal_level = logical.
	WALMode Mode = "wal"
)

// newWAL checks cfg's WAL settings and, in WAL mode, loads its statements.
func newWAL(db Database, d dialect, cfg *Config) (*postgres.WAL, error) {
	switch cfg.Mode {
	case "", TableMode:
		if cfg.Slot != "" || cfg.Publication != "" {
			return nil, fmt.Errorf("%w: Slot and Publication are for WAL mode: set Mode: outboxstore.WALMode, or leave them empty", outbox.ErrInvalidConfig)
		}
		return nil, nil
	case WALMode:
	default:
		return nil, fmt.Errorf("%w: unknown Mode %q: use outboxstore.TableMode or WALMode", outbox.ErrInvalidConfig, cfg.Mode)
	}
	pg, ok := d.(*postgres.Dialect)
	if db != PostgreSQL || !ok {
		return nil, fmt.Errorf("%w: WAL mode needs PostgreSQL's logical decoding; on %s use TableMode", outbox.ErrInvalidConfig, db)
	}
	return pg.WAL(cfg.Slot, cfg.Publication)
}

// Slot is WAL mode's replication slot as PostgreSQL reports it.
type Slot struct {
	Name string `json:"name"`
	// WALStatus is pg_replication_slots.wal_status: reserved or extended when healthy,
	// unreserved when close to max_slot_wal_keep_size, lost when invalidated (its events
	// are gone), empty when the slot does not exist.
	WALStatus string `json:"wal_status"`
	// Active is whether a relay reads it now, ActivePID that relay's server process.
	Active    bool  `json:"active"`
	ActivePID int64 `json:"active_pid,omitempty"`
	// LagBytes is the WAL the slot holds past what the relay confirmed.
	LagBytes int64 `json:"lag_bytes"`
	// LagSeconds is how far behind in time: with a relay reading, PostgreSQL's flush lag
	// of it; with none, the age of the oldest transaction the slot still holds (-1 when
	// finding it took over 2 s: behind a very large transaction).
	LagSeconds float64 `json:"lag_seconds"`
	// SafeWALBytes is how much more WAL may be written before the slot is invalidated;
	// -1 when max_slot_wal_keep_size is unlimited.
	SafeWALBytes int64 `json:"safe_wal_bytes"`
}

// Slot reports WAL mode's replication slot. While no relay reads it, it peeks at the
// slot for the age of its oldest transaction, which a relay attaching at that moment
// waits out (it retries for up to 10 s).
func (s *Store[TTx]) Slot(ctx context.Context) (Slot, error) {
	if s.wal == nil {
		return Slot{}, fmt.Errorf("outbox: slot: %w: the store is in table mode", outbox.ErrInvalidConfig)
	}
	st, err := s.wal.Status(ctx, s.db)
	if err != nil {
		return Slot{}, fmt.Errorf("outbox: slot %s: %w", s.wal.Slot, err)
	}
	lag, err := s.wal.Lag(ctx, s.db, st)
	if err != nil {
		return Slot{}, fmt.Errorf("outbox: slot %s: lag: %w", s.wal.Slot, err)
	}
	return Slot{Name: s.wal.Slot, WALStatus: st.WALStatus, Active: st.Active, ActivePID: st.ActivePID,
		LagBytes: st.LagBytes, LagSeconds: lag.Seconds(), SafeWALBytes: st.SafeWALSize}, nil
}

// RecreateSlot drops WAL mode's slot, invalidated or not, and creates it again from the
// server's current position, which it returns. Events the old slot still held are
// skipped: it is the recovery an invalidated slot's error points to, once the events it
// lost are dealt with.
func (s *Store[TTx]) RecreateSlot(ctx context.Context) (string, error) {
	if s.wal == nil {
		return "", fmt.Errorf("outbox: recreate slot: %w: the store is in table mode", outbox.ErrInvalidConfig)
	}
	lsn, err := s.wal.Recreate(ctx, s.db)
	if err != nil {
		return "", fmt.Errorf("outbox: recreate slot %s: %w", s.wal.Slot, err)
	}
	return lsn, nil
}

// retryWAL is Retry in WAL mode: the dead events go back into the stream, marked as
// redelivered, in the order they died.
func (s *Store[TTx]) retryWAL(ctx context.Context, id uuid.UUID) (int64, error) {
	n, err := s.wal.Retry(ctx, s.db, id)
	if err != nil {
		return 0, fmt.Errorf("outbox: retry: %w", err)
	}
	return n, nil
}

// checkSlot is Check in WAL mode: logical decoding is on, and the slot exists and has
// not lost events. Like the rest of Check, it changes nothing.
func (s *Store[TTx]) checkSlot(ctx context.Context) error {
	if err := s.wal.CheckLevel(ctx, s.db); err != nil {
		return fmt.Errorf("outbox: check: %w", err)
	}
	st, err := s.wal.Status(ctx, s.db)
	if err != nil {
		return fmt.Errorf("outbox: check slot %s: %w", s.wal.Slot, err)
	}
	if err := s.wal.Lost(st); err != nil {
		return fmt.Errorf("outbox: check: %w", err)
	}
	if st.WALStatus == "" {
		return fmt.Errorf("outbox: check: %w: WAL mode's slot %s does not exist: run 'outbox migrate --mode wal' or Store.Migrate before the first Write",
			ErrNotMigrated, s.wal.Slot)
	}
	return nil
}
