package outboxstore

import (
	"context"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/dialect/postgres"
	"github.com/firstunicorn/outbox/internal/sqldb"
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
	// ServerVersion is server_version_num (170005 for 17.5); failover slots need 170000.
	ServerVersion int `json:"server_version"`
	// Failover is whether the slot is a failover slot, which standbys with
	// sync_replication_slots = on copy (PostgreSQL 17).
	Failover bool `json:"failover"`
	// Standby is whether this server is a standby. There, Synced says whether its copy
	// of the slot is synced from the primary, so that a relay can resume from it once
	// the standby is promoted.
	Standby bool `json:"standby"`
	Synced  bool `json:"synced"`
	// InvalidationReason is why PostgreSQL 17 invalidated the slot (wal_removed,
	// rows_removed, wal_level_insufficient, idle_timeout); empty while it is valid.
	InvalidationReason string `json:"invalidation_reason"`
	// SynchronizedStandbySlots is the primary's synchronized_standby_slots: the
	// standbys' physical slots a logical reader waits for, so that the relay never
	// publishes a transaction a promoted standby would not have. Empty: it may.
	SynchronizedStandbySlots string `json:"synchronized_standby_slots"`
}

// FailoverRisk says what a failover to a standby would cost this slot, in a sentence;
// empty when nothing: PostgreSQL 17, a failover slot, and a primary whose logical
// readers wait for its standbys (synchronized_standby_slots). Whether a standby has
// synced the slot is the standby's to tell: its Admin's Slot().Synced.
func (s Slot) FailoverRisk() string {
	switch {
	case s.ServerVersion < 170000:
		return "not failover-safe: before PostgreSQL 17 a logical slot lives on the primary only, so a promoted standby has " +
			"no slot and the relay refuses to start (relay.ErrStreamLost); upgrade to 17 for failover slots"
	case s.InvalidationReason != "":
		return "the slot was invalidated (" + s.InvalidationReason + "): a failover cannot keep what it lost"
	case s.Standby && !s.Synced:
		return "this standby has no synced copy of the slot: a failover to it now would lose the slot (the primary's " +
			"slot must be a failover slot, and the standby needs sync_replication_slots = on, hot_standby_feedback = on, " +
			"primary_slot_name, and a dbname in primary_conninfo)"
	case s.Standby:
		return ""
	case s.WALStatus == "":
		return "no slot"
	case !s.Failover:
		return "not a failover slot yet: a relay on PostgreSQL 17 converts it when it attaches (or run 'outbox migrate')"
	case s.SynchronizedStandbySlots == "":
		return "synchronized_standby_slots is empty: the relay may publish transactions a standby has not received, " +
			"which a failover turns into ghost events; list the standbys' physical slots in it"
	}
	return ""
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
		LagBytes: st.LagBytes, Lag: lag, SafeWALBytes: st.SafeWALSize, ServerVersion: st.Version, Failover: st.Failover,
		Standby: st.InRecovery, Synced: st.Synced, InvalidationReason: st.InvalidationReason,
		SynchronizedStandbySlots: st.StandbySlots}, nil
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

// failoverSlot makes a slot created before PostgreSQL 17 (or by an older go-outbox) a
// failover slot, through the driver's replication connection; st is the slot as Setup
// found it. A slot a relay reads
// now cannot be altered: that relay's successor converts it when it attaches, as does
// any relay over a store without replication (database/sql).
func (a *Admin) failoverSlot(ctx context.Context, st postgres.SlotStatus) error {
	w := a.c.wal
	if !st.FailoverCapable() || st.Failover || st.Active {
		return nil
	}
	rep, ok := a.c.drv.(sqldb.Replicator)
	if !ok {
		return nil
	}
	if err := rep.EnableFailover(ctx, w.Slot); err != nil {
		return fmt.Errorf("slot %s: %w", w.Slot, err)
	}
	return nil
}
