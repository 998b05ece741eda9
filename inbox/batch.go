package inbox

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// tryBatch applies recs in one transaction: each one's record, then its handler,
// duplicates skipped as one at a time would. It reports false, having committed
// nothing, when any record lacks a usable id or any statement, handler or the commit
// fails: the caller then handles them one by one.
func (c *Consumer[TTx]) tryBatch(ctx context.Context, recs []*kgo.Record, lag int64) bool {
	msgs := make([]*Message, len(recs))
	for i, r := range recs {
		m := newMessage(r)
		id, err := eventID(c.cfg.EventID, m)
		if err != nil {
			return false
		}
		m.ID, m.Attempt, msgs[i] = id, 1, m
	}
	start := time.Now()
	tx, end, err := c.store.begin(ctx)
	if err != nil {
		return false
	}
	defer func() { _ = end.Rollback(context.WithoutCancel(ctx)) }()
	outs := make([]Outcome, len(msgs))
	for i, m := range msgs {
		n, err := sqldb.Exec(ctx, end, c.store.a.sql.Queries["record"], c.cfg.Group, m.ID, m.Topic, int64(m.Partition), m.Offset)
		if err != nil {
			return false
		}
		if n == 0 {
			outs[i] = Duplicate
			continue
		}
		if err := c.call(ctx, tx, m); err != nil {
			c.cfg.Logger.Debug("inbox: a batch failed; handling its events one by one", "group", c.cfg.Group,
				"topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
			return false
		}
		outs[i] = Handled
	}
	if err := end.Commit(ctx); err != nil {
		return false
	}
	for i, m := range msgs {
		c.event(m, outs[i], start, lag+int64(len(msgs)-1-i), nil)
	}
	return true
}
