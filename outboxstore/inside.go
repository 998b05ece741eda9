package outboxstore

import (
	"context"
	"fmt"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

func init() {
	sqldb.Statements = func(ctx context.Context, store any, msgs []outbox.Message) ([]sqldb.Statement, error) {
		s, err := inside(store)
		if err != nil {
			return nil, err
		}
		return s.statements(ctx, msgs)
	}
	sqldb.Pending = func(ctx context.Context, store, tx any, limit int) ([]outbox.Message, error) {
		s, err := inside(store)
		if err != nil {
			return nil, err
		}
		return s.pending(ctx, tx, limit)
	}
}

// insider is a Store of any transaction type, as sqldb's hooks reach it.
type insider interface {
	statements(ctx context.Context, msgs []outbox.Message) ([]sqldb.Statement, error)
	pending(ctx context.Context, tx any, limit int) ([]outbox.Message, error)
}

func inside(store any) (insider, error) {
	s, ok := store.(insider)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not an *outboxstore.Store", outbox.ErrInvalidConfig, store)
	}
	return s, nil
}

// statements prepares msgs as Write does and returns the statements Write would run,
// without running them.
func (s *Store[TTx]) statements(ctx context.Context, msgs []outbox.Message) ([]sqldb.Statement, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: a nil *outboxstore.Store", outbox.ErrInvalidConfig)
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	rows, err := s.c.prepare(ctx, msgs)
	if err != nil {
		return nil, err
	}
	var rec sqldb.Recorder
	if s.c.wal != nil {
		err = s.c.wal.Emit(ctx, &rec, rows, 0)
	} else {
		err = s.c.d.Insert(ctx, &rec, rows)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: write %d messages: %w", len(msgs), err)
	}
	return rec.Stmts, nil
}

// pending reads up to limit pending events through tx, which must be of the store's
// transaction type, in write order. WAL mode writes no rows, so it has none to read.
func (s *Store[TTx]) pending(ctx context.Context, tx any, limit int) ([]outbox.Message, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: a nil *outboxstore.Store", outbox.ErrInvalidConfig)
	}
	if s.c.wal != nil {
		return nil, fmt.Errorf("%w: in WAL mode the events are in the WAL, not in rows a transaction can read: "+
			"test the application's writes with a table-mode store (Write validates and stores alike in both)", outbox.ErrInvalidConfig)
	}
	t, ok := tx.(TTx)
	if !ok {
		return nil, fmt.Errorf("%w: the transaction is a %T, the store's are %T", outbox.ErrInvalidConfig, tx, *new(TTx))
	}
	q, err := s.drv.Tx(t)
	if err != nil {
		return nil, err
	}
	sql, args := s.c.q["pending"].Bind(limit)
	recs, err := sqldb.ReadRecords(ctx, q, sql, args)
	if err != nil {
		return nil, fmt.Errorf("outbox: read pending events: %w", err)
	}
	out := make([]outbox.Message, len(recs))
	for i, r := range recs {
		if r.DecodeErr != nil {
			return nil, fmt.Errorf("outbox: pending event %d: %w", r.Seq, r.DecodeErr)
		}
		out[i] = r.Message
	}
	return out, nil
}
