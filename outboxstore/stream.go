package outboxstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pglogrepl"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/internal/walenvelope"
	"github.com/firstunicorn/outbox/internal/walstream"
	"github.com/firstunicorn/outbox/relay"
)

// connStringer is a driver that knows its connection string (outboxpgx).
type connStringer interface{ ConnString() string }

// Stream returns WAL mode's event stream for relay.NewStream. connString is a
// PostgreSQL URL or DSN for the replication connection, as a user with the REPLICATION
// attribute; empty = the pool's own (outboxpgx only). Nothing connects until the relay
// attaches, which also creates the publication and slot when missing (see Migrate).
func (s *Store[TTx]) Stream(connString string) (relay.Stream, error) {
	if s.wal == nil {
		return nil, fmt.Errorf("outbox: stream: %w: the store is in table mode; set Config.Mode to outboxstore.WALMode", outbox.ErrInvalidConfig)
	}
	if connString == "" {
		if cs, ok := s.drv.(connStringer); ok {
			connString = cs.ConnString()
		}
	}
	if connString == "" {
		return nil, fmt.Errorf("outbox: stream: %w: pass the database URL for the replication connection", outbox.ErrInvalidConfig)
	}
	return &stream[TTx]{s: s, connString: connString}, nil
}

type stream[TTx any] struct {
	s          *Store[TTx]
	connString string
}

// streamBuffer is how many decoded items wait for the relay: enough for the next
// batches while one is published.
const streamBuffer = 8192

// Attach implements relay.Stream: it prepares the slot, refusing one that lost events,
// then waits as a standby until no other relay reads it.
func (st *stream[TTx]) Attach(ctx context.Context, owner string) (relay.StreamReader, error) {
	w := st.s.wal
	if err := w.Setup(ctx, st.s.db); err != nil {
		return nil, fmt.Errorf("outbox: slot %s: %w", w.Slot, err)
	}
	rd, err := walstream.Open(ctx, st.connString, walstream.Options{
		Slot: w.Slot, Publication: w.Publication, Prefix: w.Prefix, HeartbeatPrefix: w.HeartbeatPrefix,
		Buffer: streamBuffer, StatusInterval: 5 * time.Second, AppName: "outbox-wal " + owner,
	})
	if err != nil {
		return nil, err
	}
	// A slot invalidated while this relay waited is refused now, not read from.
	if sl, err := w.Status(ctx, st.s.db); err == nil {
		if err := w.Lost(sl); err != nil {
			rd.Close()
			return nil, fmt.Errorf("outbox: slot %s: %w", w.Slot, err)
		}
	}
	return &reader[TTx]{s: st.s, rd: rd}, nil
}

// Heartbeat implements relay.Stream.
func (st *stream[TTx]) Heartbeat(ctx context.Context) error {
	return st.s.wal.Heartbeat(ctx, st.s.db)
}

// reader turns the slot's messages into relay records.
type reader[TTx any] struct {
	s         *Store[TTx]
	rd        *walstream.Reader
	seq       int64
	malformed map[int64]outbox.Message // by Seq, until dead-lettered
}

func (r *reader[TTx]) Next(ctx context.Context, max int) ([]relay.Record, uint64, error) {
	events, through, err := r.rd.Next(ctx, max)
	if err != nil {
		return nil, 0, err
	}
	recs := make([]relay.Record, len(events))
	for i, e := range events {
		r.seq++
		m, flags, derr := walenvelope.Decode(e.Content)
		if derr != nil {
			r.keepMalformed(r.seq, &e)
		}
		recs[i] = relay.Record{Seq: r.seq, WrittenAt: e.Committed, Message: m, DecodeErr: derr,
			Redelivered: flags&walenvelope.FlagRedelivered != 0}
	}
	return recs, uint64(through), nil
}

func (r *reader[TTx]) keepMalformed(seq int64, e *walstream.Event) {
	if r.malformed == nil || len(r.malformed) > 1000 { // records since dead-lettered
		r.malformed = map[int64]outbox.Message{}
	}
	id := uuid.NewSHA1(malformedSpace, fmt.Appendf(nil, "%s/%d", r.s.wal.Slot, e.LSN))
	r.malformed[seq] = outbox.Message{ID: id, Topic: "(malformed)", Payload: e.Content, OccurredAt: e.Committed}
}

// malformedSpace is the UUID namespace of malformed events' ids.
var malformedSpace = uuid.MustParse("6f1c3c2e-1d2b-4a53-9d7c-6b7a0e0c9a11")

func (r *reader[TTx]) Confirm(pos uint64) { r.rd.Confirm(pglogrepl.LSN(pos)) }

func (r *reader[TTx]) Close() { r.rd.Close() }

// DeadLetter stores recs in the outbox table as dead, in one transaction. A malformed
// envelope has no message to store: its raw bytes are kept as the payload, under an id
// derived from its position in the WAL (so a replay stores it once), with topic
// "(malformed)", so the operator sees what was dropped and why.
func (r *reader[TTx]) DeadLetter(ctx context.Context, recs []relay.Record, reasons []string) error {
	tx, err := r.s.db.Begin(ctx, sqldb.TxOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for i := range recs {
		m := recs[i].Message
		if recs[i].DecodeErr != nil {
			m = r.malformed[recs[i].Seq]
		}
		if err := r.s.wal.DeadLetter(ctx, tx, &m, recs[i].WrittenAt, recs[i].Attempts+1, reasons[i]); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func (r *reader[TTx]) DeadKeys(ctx context.Context) (map[string]uuid.UUID, error) {
	return r.s.wal.DeadKeys(ctx, r.s.db)
}
