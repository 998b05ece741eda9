package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/relay"
)

// The replication slot's life: its state, its creation (a failover slot where the
// server has them), the refusal of one that lost events, and the reader's saved
// position.

// SlotStatus is the slot as the server sees it.
type SlotStatus struct {
	// WALStatus is pg_replication_slots.wal_status: reserved, extended, unreserved, or
	// lost (invalidated); empty when the slot does not exist.
	WALStatus string
	Active    bool
	ActivePID int64
	// LagBytes is the WAL between the server's position and what the relay confirmed.
	LagBytes int64
	// SafeWALSize is how much more WAL may be written before the slot is invalidated
	// (-1 when max_slot_wal_keep_size is unlimited).
	SafeWALSize int64
	// Recorded is whether this outbox created the slot.
	Recorded bool
	// Failover is whether the slot is a failover slot (PostgreSQL 17), Synced whether it
	// is a standby's synced copy of one, and InvalidationReason why it was invalidated.
	Failover, Synced   bool
	InvalidationReason string
	// Version is server_version_num, InRecovery whether the server is a standby.
	Version    int
	InRecovery bool
	// StandbySlots is synchronized_standby_slots (PostgreSQL 17): the physical slots of
	// the standbys a logical reader waits for.
	StandbySlots string
}

// failoverSlots is the first server_version_num with failover slots.
const failoverSlots = 170000

// FailoverCapable reports whether the server has failover slots.
func (s SlotStatus) FailoverCapable() bool { return s.Version >= failoverSlots }

// Status reads the slot's state.
func (w *WAL) Status(ctx context.Context, db sqldb.Querier) (SlotStatus, error) {
	var s SlotStatus
	err := sqldb.QueryRow(ctx, db, w.q["slot"], []any{w.Slot}, &s.WALStatus, &s.Active, &s.ActivePID, &s.LagBytes,
		&s.SafeWALSize, &s.Recorded, &s.Failover, &s.Synced, &s.InvalidationReason, &s.Version, &s.InRecovery, &s.StandbySlots)
	return s, err
}

// Setup creates the publication and the slot unless they exist, and returns the slot's
// state as it found it (WALStatus empty: it created the slot, a failover slot where
// the server has them). It refuses a slot that was invalidated, or that it once
// created and is gone, with relay.ErrStreamLost: a fresh slot would start after the
// events the old one held, so it is the operator's call (Recreate), never done
// silently.
func (w *WAL) Setup(ctx context.Context, db sqldb.DB) (SlotStatus, error) {
	if err := w.CheckLevel(ctx, db); err != nil {
		return SlotStatus{}, err
	}
	var exists bool
	if err := sqldb.QueryRow(ctx, db, w.q["publication_exists"], []any{w.Publication}, &exists); err != nil {
		return SlotStatus{}, err
	}
	if !exists { // an empty publication: pgoutput needs one, and messages need no table
		if _, err := db.Exec(ctx, `CREATE PUBLICATION "`+w.Publication+`"`); err != nil && !isCode(err, "42710") {
			return SlotStatus{}, fmt.Errorf("create publication %s: %w", w.Publication, err)
		}
	}
	st, err := w.Status(ctx, db)
	if err != nil {
		return st, err
	}
	if err := w.Lost(st); err != nil {
		return st, err
	}
	if st.WALStatus == "" {
		_, err = w.create(ctx, db, st.FailoverCapable())
		st.Failover = st.FailoverCapable()
	}
	return st, err
}

// CheckLevel refuses a server whose wal_level is not logical.
func (w *WAL) CheckLevel(ctx context.Context, db sqldb.Querier) error {
	var level string
	if err := sqldb.QueryRow(ctx, db, w.q["wal_level"], nil, &level); err != nil {
		return err
	}
	if level != "logical" {
		return fmt.Errorf("%w: WAL mode needs wal_level = logical (the server has %s): set it in postgresql.conf and restart PostgreSQL",
			sqldb.ErrUnsupported, level)
	}
	return nil
}

// Lost is relay.ErrStreamLost, with what was lost and how to recover, for a slot that
// was invalidated or that this outbox created and is gone; nil otherwise.
func (w *WAL) Lost(st SlotStatus) error {
	switch {
	case st.WALStatus == "lost":
		return fmt.Errorf("%w: replication slot %s was invalidated (wal_status lost): PostgreSQL removed WAL it still needed, "+
			"so events written while the relay was behind are gone from it. Recover what the source of truth can re-send, then "+
			"run 'outbox migrate --mode wal --recreate-slot' to start a new slot from now; raise max_slot_wal_keep_size "+
			"or keep the relay running to avoid it", relay.ErrStreamLost, w.Slot)
	case st.WALStatus == "" && st.Recorded:
		return fmt.Errorf("%w: replication slot %s, created by this outbox, does not exist on this server: it was dropped "+
			"by hand, or this server is a promoted standby that had no synced copy of it (PostgreSQL before 17, a slot "+
			"without FAILOVER, or a failover before the standby synced it: check pg_replication_slots.synced on the standby "+
			"first). Events written since it went are not in any slot. Recover what the source of truth can re-send, then "+
			"run 'outbox migrate --mode wal --recreate-slot'", relay.ErrStreamLost, w.Slot)
	}
	return nil
}

// Recreate drops the slot, if any, and creates it again from the server's current
// position; it returns that position. Events the old slot held and the relay had not
// confirmed are skipped.
func (w *WAL) Recreate(ctx context.Context, db sqldb.DB) (string, error) {
	st, err := w.Status(ctx, db)
	if err != nil {
		return "", err
	}
	if _, err := sqldb.Exec(ctx, db, w.q["drop_slot"], w.Slot); err != nil {
		return "", fmt.Errorf("drop slot %s: %w", w.Slot, err)
	}
	return w.create(ctx, db, st.FailoverCapable())
}

// create makes the slot, a failover slot where the server has them.
func (w *WAL) create(ctx context.Context, db sqldb.DB, failover bool) (string, error) {
	var lsn string
	q := w.q["create_slot"]
	if failover {
		q = w.q["create_failover_slot"]
	}
	if err := sqldb.QueryRow(ctx, db, q, []any{w.Slot}, &lsn); err != nil {
		if isCode(err, "42710") { // another relay or migrator created it first
			return "", nil
		}
		return "", fmt.Errorf("create replication slot %s (the role needs REPLICATION; max_replication_slots may be reached): %w", w.Slot, err)
	}
	_, err := sqldb.Exec(ctx, db, w.q["record_slot"], w.Slot, lsn)
	return lsn, err
}

// SavePosition records that the slot's reader has published everything before lsn.
func (w *WAL) SavePosition(ctx context.Context, db sqldb.Querier, lsn uint64) error {
	_, err := sqldb.Exec(ctx, db, w.q["save_position"], w.Slot, FormatLSN(lsn))
	return err
}

// Position is the last position SavePosition recorded for the slot, 0 when none.
func (w *WAL) Position(ctx context.Context, db sqldb.Querier) (uint64, error) {
	var s string
	if err := sqldb.QueryRow(ctx, db, w.q["load_position"], []any{w.Slot}, &s); err != nil {
		if errors.Is(err, sqldb.ErrNoRow) {
			return 0, nil
		}
		return 0, err
	}
	if s == "" {
		return 0, nil
	}
	return ParseLSN(s)
}

// FormatLSN writes lsn as PostgreSQL does, X/X in hexadecimal.
func FormatLSN(lsn uint64) string { return fmt.Sprintf("%X/%X", lsn>>32, uint32(lsn)) }

// ParseLSN reads PostgreSQL's X/X form.
func ParseLSN(s string) (uint64, error) {
	var hi, lo uint32
	if _, err := fmt.Sscanf(s, "%X/%X", &hi, &lo); err != nil {
		return 0, fmt.Errorf("position %q: %w", s, err)
	}
	return uint64(hi)<<32 | uint64(lo), nil
}
