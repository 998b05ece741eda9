package outboxstore

import (
	"context"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/dialect/postgres"
)

// Mode is how Write hands events to the relay.
type Mode string

// The modes. Both keep dead letters in the outbox table, so Admin's Dead, Retry and
// PurgeDead (and the outbox command's dead, retry and purge) work alike.
const (
	// TableMode stores each event as a row of the outbox table; relays claim the rows
	// through leased key buckets (relay.New). The default, on every database.
	TableMode Mode = "table"
	// WALMode writes each event into PostgreSQL's WAL as a logical decoding message
	// (pg_logical_emit_message), with no row; one relay at a time streams them from a
	// replication slot in commit order (relay.New). PostgreSQL only, with
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
	// Lag is how far behind in time: with a relay reading, PostgreSQL's flush lag of it;
	// with none, the age of the oldest transaction the slot still holds (-1ns when
	// finding it took over 2 s: behind a very large transaction).
	Lag time.Duration `json:"lag"`
	// SafeWALBytes is how much more WAL may be written before the slot is invalidated;
	// -1 when max_slot_wal_keep_size is unlimited.
	SafeWALBytes int64 `json:"safe_wal_bytes"`
}

// Slot reports WAL mode's replication slot. While no relay reads it, it peeks at the
// slot for the age of its oldest transaction, which a relay attaching at that moment
// waits out (it retries for up to 10 s).
func (a *Admin) Slot(ctx context.Context) (Slot, error) {
	if a.c.wal == nil {
		return Slot{}, fmt.Errorf("outbox: slot: %w: the store is in table mode", outbox.ErrInvalidConfig)
	}
	w := a.c.wal
	st, err := w.Status(ctx, a.c.db)
	if err != nil {
		return Slot{}, fmt.Errorf("outbox: slot %s: %w", w.Slot, err)
	}
	lag, err := w.Lag(ctx, a.c.db, st)
	if err != nil {
		return Slot{}, fmt.Errorf("outbox: slot %s: lag: %w", w.Slot, err)
	}
	return Slot{Name: w.Slot, WALStatus: st.WALStatus, Active: st.Active, ActivePID: st.ActivePID,
		LagBytes: st.LagBytes, Lag: lag, SafeWALBytes: st.SafeWALSize}, nil
}

// RecreateSlot drops WAL mode's slot, invalidated or not, and creates it again from the
// server's current position, which it returns. Events the old slot still held are
// skipped: it is the recovery an invalidated slot's error points to, once the events it
// lost are dealt with.
func (a *Admin) RecreateSlot(ctx context.Context) (string, error) {
	if a.c.wal == nil {
		return "", fmt.Errorf("outbox: recreate slot: %w: the store is in table mode", outbox.ErrInvalidConfig)
	}
	lsn, err := a.c.wal.Recreate(ctx, a.c.db)
	if err != nil {
		return "", fmt.Errorf("outbox: recreate slot %s: %w", a.c.wal.Slot, err)
	}
	return lsn, nil
}

// checkSlot is Check in WAL mode: logical decoding is on, and the slot exists and has
// not lost events. Like the rest of Check, it changes nothing.
func (a *Admin) checkSlot(ctx context.Context) error {
	if err := a.c.wal.CheckLevel(ctx, a.c.db); err != nil {
		return fmt.Errorf("outbox: check: %w", err)
	}
	st, err := a.c.wal.Status(ctx, a.c.db)
	if err != nil {
		return fmt.Errorf("outbox: check slot %s: %w", a.c.wal.Slot, err)
	}
	if err := a.c.wal.Lost(st); err != nil {
		return fmt.Errorf("outbox: check: %w", err)
	}
	if st.WALStatus == "" {
		return fmt.Errorf("outbox: check: %w: WAL mode's slot %s does not exist: run 'outbox migrate --mode wal' or Admin.Migrate before the first Write",
			ErrNotMigrated, a.c.wal.Slot)
	}
	return nil
}
