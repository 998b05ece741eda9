package walstream

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// decode turns one CopyData of the stream into an item, or none. Begin and Commit
// frame each transaction: its messages carry its commit time, and its end is a marker.
// A keepalive is a marker too when it falls between transactions, as PostgreSQL's own
// subscriber treats it, so that a slot whose database writes no events still advances.
func (r *Reader) decode(data []byte, tx *txn, st *status) (*item, error) {
	if len(data) == 0 {
		return nil, nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return nil, err
		}
		if k.ReplyRequested {
			if err := st.maybeSend(true); err != nil {
				return nil, err
			}
		}
		if tx.in {
			return nil, nil
		}
		return &item{pos: uint64(k.ServerWALEnd)}, nil
	case pglogrepl.XLogDataByteID:
	default:
		return nil, nil
	}
	x, err := pglogrepl.ParseXLogData(data[1:])
	if err != nil {
		return nil, err
	}
	msg, err := pglogrepl.Parse(x.WALData)
	if err != nil {
		return nil, fmt.Errorf("decode pgoutput: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.BeginMessage:
		*tx = txn{in: true, committed: m.CommitTime, commit: uint64(m.FinalLSN)}
	case *pglogrepl.CommitMessage:
		tx.in = false
		return &item{pos: uint64(m.TransactionEndLSN)}, nil
	case *pglogrepl.LogicalDecodingMessage:
		switch {
		case m.Transactional && m.Prefix == r.opt.Prefix:
			e := &sqldb.WALEvent{Content: bytes.Clone(m.Content), Committed: tx.committed, LSN: uint64(m.LSN),
				Commit: tx.commit, Index: tx.next}
			tx.next++
			return &item{event: e}, nil
		case !m.Transactional && m.Prefix == r.opt.HeartbeatPrefix && !tx.in:
			return &item{pos: uint64(m.LSN)}, nil
		}
	}
	return nil, nil
}

// txn is the transaction being decoded: Begin gives its commit time and position, and
// its events are counted in order.
type txn struct {
	in        bool
	committed time.Time
	commit    uint64
	next      uint32
}

// status reports the confirmed position: as soon as it moves, and every
// StatusInterval (or when the server asks) even when it does not.
type status struct {
	r        *Reader
	last     time.Time
	reported uint64
}

func (s *status) maybeSend(force bool) error {
	c := s.r.confirmed.Load()
	since := time.Since(s.last)
	if !force && since < s.r.opt.StatusInterval && c == s.reported {
		return nil
	}
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), s.r.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: pglogrepl.LSN(c)})
	if err != nil {
		return fmt.Errorf("report position: %w", err)
	}
	s.last, s.reported = time.Now(), c
	return nil
}
