package outboxstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/internal/walenvelope"
	"github.com/firstunicorn/outbox/relay/source"
)

// stream is WAL mode's outbox as the relay reads it: the replication slot, through the
// driver's replication connection.
type stream struct {
	c   *core
	rep sqldb.Replicator
}

// stream returns WAL mode's stream, or says why the driver cannot read one.
func (c *core) stream() (source.Stream, error) {
	rep, ok := c.drv.(sqldb.Replicator)
	if !ok {
		return nil, fmt.Errorf("%w: WAL mode's relay reads the replication slot through pgx's replication protocol: "+
			"build the relay's store with outboxpgx.New(pool) (the application may keep writing through database/sql)",
			outbox.ErrInvalidConfig)
	}
	return &stream{c: c, rep: rep}, nil
}

// streamBuffer is how many decoded items wait for the relay: enough for the next
// batches while one is published.
const streamBuffer = 8192

// Attach implements source.Stream: it prepares the slot, refusing one that lost events,
// then waits as a standby until no other relay reads it. It streams from the position
// the last reader saved, where that is past the slot's own (see savePositions), and on
// PostgreSQL 17 makes the slot a failover slot if it is not one yet.
func (st *stream) Attach(ctx context.Context, owner string) (source.StreamReader, error) {
	w := st.c.wal
	sl, err := w.Setup(ctx, st.c.db)
	if err != nil {
		return nil, fmt.Errorf("outbox: slot %s: %w", w.Slot, err)
	}
	rd, err := st.rep.Replicate(ctx, sqldb.ReplicationOptions{
		Slot: w.Slot, Publication: w.Publication, Prefix: w.Prefix, HeartbeatPrefix: w.HeartbeatPrefix,
		Buffer: streamBuffer, StatusInterval: 5 * time.Second, AppName: "outbox-wal " + owner,
		Failover: sl.FailoverCapable() && !sl.Failover,
		Start:    func(ctx context.Context) (uint64, error) { return w.Position(ctx, st.c.db) },
	})
	if err != nil {
		return nil, err
	}
	// A slot invalidated while this relay waited is refused now, not read from.
	if sl, err := w.Status(ctx, st.c.db); err == nil {
		if err := w.Lost(sl); err != nil {
			rd.Close()
			return nil, fmt.Errorf("outbox: slot %s: %w", w.Slot, err)
		}
	}
	r := &reader{c: st.c, rd: rd, stop: make(chan struct{}), saved: make(chan struct{})}
	go r.savePositions()
	return r, nil
}

// Heartbeat implements source.Stream.
func (st *stream) Heartbeat(ctx context.Context) error {
	return st.c.wal.Heartbeat(ctx, st.c.db)
}

// reader turns the slot's messages into relay records.
type reader struct {
	c         *core
	rd        sqldb.Replication
	seq       int64
	malformed map[int64]outbox.Message // by Seq, until dead-lettered

	stop, saved chan struct{} // savePositions' end: asked for, and done
}

func (r *reader) Next(ctx context.Context, max int) ([]source.Record, uint64, error) {
	events, through, err := r.rd.Next(ctx, max)
	if err != nil {
		return nil, 0, err
	}
	recs := make([]source.Record, len(events))
	for i, e := range events {
		r.seq++
		m, flags, derr := walenvelope.Decode(e.Content)
		if derr != nil {
			r.keepMalformed(r.seq, &e)
		}
		recs[i] = source.Record{Seq: r.seq, Pos: source.Pos{Commit: e.Commit, Index: e.Index}, WrittenAt: e.Committed, Message: m, DecodeErr: derr,
			Redelivered: flags&walenvelope.FlagRedelivered != 0}
	}
	return recs, through, nil
}

func (r *reader) keepMalformed(seq int64, e *sqldb.WALEvent) {
	if r.malformed == nil || len(r.malformed) > 1000 { // records since dead-lettered
		r.malformed = map[int64]outbox.Message{}
	}
	id := uuid.NewSHA1(malformedSpace, fmt.Appendf(nil, "%s/%d", r.c.wal.Slot, e.LSN))
	r.malformed[seq] = outbox.Message{ID: id, Topic: "(malformed)", Payload: e.Content, OccurredAt: e.Committed}
}

// malformedSpace is the UUID namespace of malformed events' ids.
var malformedSpace = uuid.MustParse("6f1c3c2e-1d2b-4a53-9d7c-6b7a0e0c9a11")

func (r *reader) Confirm(pos uint64) { r.rd.Confirm(pos) }

func (r *reader) Close() {
	close(r.stop)
	<-r.saved
	r.rd.Close()
}

// saveInterval is how often the reader records its confirmed position in the outbox's
// wal_slots table. PostgreSQL before 17 writes a slot's confirmed position to disk only
// when the slot's restart point moves (under load about every 15 s), so a restarted
// server resumes the slot from seconds back; the next reader starts from the saved
// position instead, and what it sends again is at most this interval of events plus
// the batches in flight.
const saveInterval = 250 * time.Millisecond

// savePositions records the confirmed position every saveInterval while it moves, and
// once more when the reader closes. A save that fails is tried again at the next tick:
// a position saved late costs duplicates after a restart, never events.
func (r *reader) savePositions() {
	defer close(r.saved)
	w := r.c.wal
	var saved uint64
	save := func() {
		if pos := r.rd.Confirmed(); pos > saved {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if w.SavePosition(ctx, r.c.db, pos) == nil {
				saved = pos
			}
		}
	}
	tick := time.NewTicker(saveInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			save()
		case <-r.stop:
			save()
			return
		}
	}
}

// DeadLetter stores recs in the outbox table as dead, in one transaction. A malformed
// envelope has no message to store: its raw bytes are kept as the payload, under an id
// derived from its position in the WAL (so a replay stores it once), with topic
// "(malformed)", so the operator sees what was dropped and why.
func (r *reader) DeadLetter(ctx context.Context, recs []source.Record, reasons []string) error {
	tx, err := r.c.db.Begin(ctx, sqldb.TxOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for i := range recs {
		m := recs[i].Message
		if recs[i].DecodeErr != nil {
			m = r.malformed[recs[i].Seq]
		}
		if err := r.c.wal.DeadLetter(ctx, tx, &m, recs[i].WrittenAt, recs[i].Attempts+1, reasons[i]); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func (r *reader) DeadKeys(ctx context.Context) (map[string]uuid.UUID, error) {
	return r.c.wal.DeadKeys(ctx, r.c.db)
}
