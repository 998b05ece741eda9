package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/internal/walenvelope"
)

// WAL is WAL mode on one PostgreSQL outbox: events are logical decoding messages read
// from a replication slot, and the outbox table keeps only their dead letters.
type WAL struct {
	q                       sqldb.Queries
	Slot, Publication       string
	Prefix, HeartbeatPrefix string
}

// WAL validates the names of the outbox's slot and publication (empty = the table's
// name) and loads WAL mode's statements.
func (d *Dialect) WAL(slot, publication string) (*WAL, error) {
	n := d.Names()
	if slot == "" {
		slot = n.Table
	}
	if publication == "" {
		publication = n.Table
	}
	if err := sqldb.CheckIdent("Slot", slot, 63, ""); err != nil {
		return nil, err
	}
	if err := sqldb.CheckIdent("Publication", publication, 63, ""); err != nil {
		return nil, err
	}
	b, err := files.ReadFile("wal.sql")
	if err != nil {
		return nil, err
	}
	q, err := sqldb.LoadQueries(string(b), n.Vars, sqldb.Dollar,
		"emit", "emit_one", "heartbeat", "dead_letter", "dead_keys", "take_dead", "slot", "create_slot", "create_failover_slot",
		"record_slot", "drop_slot", "save_position", "load_position",
		"publication_exists", "wal_level", "reader_lag", "peek")
	if err != nil {
		return nil, fmt.Errorf("wal.sql: %w", err)
	}
	prefix := n.Schema + "." + n.Table
	return &WAL{q: q, Slot: slot, Publication: publication, Prefix: prefix, HeartbeatPrefix: prefix + ":heartbeat"}, nil
}

// Emit writes msgs, already validated and the caller's to change, into q's transaction
// as logical messages.
func (w *WAL) Emit(ctx context.Context, q sqldb.Querier, msgs []outbox.Message, flags byte) error {
	contents := make([][]byte, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		if m.Payload == nil { // as table mode stores it: an empty value, not a tombstone
			m.Payload = []byte{}
		}
		contents[i] = walenvelope.Encode(nil, m, flags)
	}
	var err error
	if len(contents) == 1 {
		_, err = sqldb.Exec(ctx, q, w.q["emit_one"], w.Prefix, contents[0])
	} else {
		_, err = sqldb.Exec(ctx, q, w.q["emit"], w.Prefix, contents)
	}
	return err
}

// Heartbeat emits a message outside any transaction, so the slot moves on a quiet database.
func (w *WAL) Heartbeat(ctx context.Context, db sqldb.Querier) error {
	var lsn string
	return sqldb.QueryRow(ctx, db, w.q["heartbeat"], []any{w.HeartbeatPrefix}, &lsn)
}

// isCode reports whether err is PostgreSQL's error code: pgconn's errors and lib/pq's
// both tell it through SQLState, so the dialect needs neither driver.
func isCode(err error, code string) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == code
}

// DeadLetter stores m as a dead event with its attempts and the reason.
func (w *WAL) DeadLetter(ctx context.Context, db sqldb.Querier, m *outbox.Message, written time.Time, attempts int, reason string) error {
	_, err := sqldb.Exec(ctx, db, w.q["dead_letter"], m.ID, m.Topic, m.Key, m.Type, m.AggregateType, m.AggregateID,
		sqldb.PayloadArg(m.Payload), sqldb.EncodeHeaders(m.Headers), m.OccurredAt, written, attempts, reason)
	return err
}

// DeadKeys maps each key that has a dead event to its earliest dead event's id.
func (w *WAL) DeadKeys(ctx context.Context, db sqldb.Querier) (map[string]uuid.UUID, error) {
	sql, args := w.q["dead_keys"].Bind()
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := map[string]uuid.UUID{}
	for rows.Next() {
		var (
			k  []byte
			id uuid.UUID
		)
		if err := rows.Scan(&k, &id); err != nil {
			return nil, err
		}
		keys[string(k)] = id
	}
	return keys, rows.Err()
}

// Retry emits dead events again, marked as redelivered, in the order they died, and
// removes them from the table in the same transaction: those of seqs, or all of them
// for nil.
func (w *WAL) Retry(ctx context.Context, db sqldb.DB, seqs []int64) (int64, error) {
	tx, err := db.Begin(ctx, sqldb.TxOptions{})
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	msgs, err := w.takeDead(ctx, tx, seqs == nil, sqldb.Int64s(seqs))
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	if err := w.Emit(ctx, tx, msgs, walenvelope.FlagRedelivered); err != nil {
		return 0, err
	}
	return int64(len(msgs)), tx.Commit(ctx)
}

func (w *WAL) takeDead(ctx context.Context, tx sqldb.Querier, all bool, seqs sqldb.Int64s) ([]outbox.Message, error) {
	sql, args := w.q["take_dead"].Bind(all, seqs)
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type dead struct {
		seq int64
		m   outbox.Message
	}
	var ds []dead
	for rows.Next() {
		var (
			d       dead
			headers string
		)
		if err := rows.Scan(&d.seq, &d.m.ID, &d.m.Topic, &d.m.Key, &d.m.Type, &d.m.AggregateType, &d.m.AggregateID,
			&d.m.Payload, &headers, &d.m.OccurredAt); err != nil {
			return nil, err
		}
		if d.m.Headers, err = sqldb.DecodeHeaders(headers); err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(ds, func(a, b dead) int { return int(a.seq - b.seq) })
	msgs := make([]outbox.Message, len(ds))
	for i := range ds {
		msgs[i] = ds[i].m
	}
	return msgs, nil
}
