package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// peekTimeout bounds the peek: behind a very large transaction, decoding up to its first
// message takes as long as reading it all.
const peekTimeout = 2 * time.Second

// Lag is how far behind the slot's reader is in time. With a relay reading, it is
// PostgreSQL's own flush lag of that reader. With none, it is the age of the oldest
// transaction still in the slot, found by peeking at the slot's first messages, which
// consumes nothing; zero when the slot holds none, -1 when the peek took too long.
func (w *WAL) Lag(ctx context.Context, db sqldb.Querier, st SlotStatus) (time.Duration, error) {
	switch {
	case st.WALStatus == "" || st.WALStatus == "lost" || st.InRecovery: // a standby has no reader, and cannot decode a synced slot
		return 0, nil
	case st.Active:
		var secs float64
		err := sqldb.QueryRow(ctx, db, w.q["reader_lag"], []any{w.Slot}, &secs)
		if errors.Is(err, sqldb.ErrNoRow) { // the reader has just gone
			return 0, nil
		}
		return seconds(secs), err
	}
	pctx, cancel := context.WithTimeout(ctx, peekTimeout)
	defer cancel()
	sql, args := w.q["peek"].Bind(w.Slot, w.Publication)
	rows, err := db.Query(pctx, sql, args...)
	if err != nil {
		if pctx.Err() != nil && ctx.Err() == nil {
			return -1, nil
		}
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var age float64
		if err := rows.Scan(&age); err != nil {
			return 0, err
		}
		return max(0, seconds(age)), nil
	}
	if err := rows.Err(); err != nil {
		if pctx.Err() != nil && ctx.Err() == nil {
			return -1, nil
		}
		return 0, err
	}
	return 0, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
