package postgres

import (
	"context"
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
	case st.Active:
		var secs float64
		if err := sqldb.QueryRow(ctx, db, w.q["reader_lag"], []any{w.Slot}, &secs); err != nil {
			return 0, err
		}
		return seconds(secs), nil
	case st.WALStatus == "" || st.WALStatus == "lost":
		return 0, nil
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
