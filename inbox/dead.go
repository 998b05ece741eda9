package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

// deadLetter records m as handled and dead, with its record to retry it, in one
// transaction: a redelivery then finds it a duplicate.
func (a *Admin) deadLetter(ctx context.Context, group string, m *Message, cause error) error {
	headers, err := json.Marshal(m.Headers)
	if err != nil {
		return err
	}
	if m.Headers == nil {
		headers = []byte("[]")
	}
	tx, err := a.db.Begin(ctx, sqldb.TxOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	n, err := sqldb.Exec(ctx, tx, a.sql.Queries["record"], group, m.ID, m.Topic, int64(m.Partition), m.Offset)
	if err != nil || n == 0 { // n == 0: another consumer has it already
		return err
	}
	_, err = sqldb.Exec(ctx, tx, a.sql.Queries["dead"], group, m.ID, m.Topic, int64(m.Partition), m.Offset,
		m.Key, m.Value, string(headers), m.Timestamp.UnixMicro(), cause.Error(), int64(m.Attempt))
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// retrying is a dead event an operator asked to retry.
type retrying struct {
	id       int64
	msg      Message
	attempts int
}

const retryBatch = 100

// retries lists group's dead events asked for retry, oldest first.
func (a *Admin) retries(ctx context.Context, group string) ([]retrying, error) {
	sql, args := a.sql.Queries["retries"].Bind(group, int64(retryBatch))
	rows, err := a.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []retrying
	for rows.Next() {
		var r retrying
		var part, attempts int64
		var headers string
		var at int64
		if err := rows.Scan(&r.id, &r.msg.ID, &r.msg.Topic, &part, &r.msg.Offset, &r.msg.Key, &r.msg.Value, &headers, &at, &attempts); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(headers), &r.msg.Headers); err != nil {
			return nil, fmt.Errorf("dead event %d: headers: %w", r.id, err)
		}
		r.msg.Partition, r.msg.Timestamp, r.attempts = int32(part), time.UnixMicro(at), int(attempts)
		out = append(out, r)
	}
	return out, rows.Err()
}

// retryDead hands the dead events an operator asked to retry to the handler, one
// attempt each: a failure puts the event back among the dead with its new error.
func (c *Consumer[TTx]) retryDead(ctx context.Context) {
	rs, err := c.store.a.retries(ctx, c.cfg.Group)
	if err != nil {
		if ctx.Err() == nil {
			c.cfg.Logger.Warn("inbox: read the dead events to retry", "err", err)
		}
		return
	}
	for i := range rs {
		if ctx.Err() != nil {
			return
		}
		r := &rs[i]
		r.msg.Attempt = r.attempts + 1
		start := time.Now()
		out, err := c.retryOne(ctx, r)
		switch {
		case err == nil && out != "":
			c.event(&r.msg, out, start, 0, nil)
			c.cfg.Logger.Info("inbox: dead event retried", "group", c.cfg.Group, "event_id", r.msg.ID, "outcome", out)
		case err != nil:
			var he *handlerError
			if errors.As(err, &he) {
				_, ferr := sqldb.Exec(ctx, c.store.a.db, c.store.a.sql.Queries["fail_retry"], r.id, err.Error())
				if ferr == nil {
					c.event(&r.msg, Dead, start, 0, err)
				}
			}
			c.cfg.Logger.Warn("inbox: retry of a dead event failed", "group", c.cfg.Group, "event_id", r.msg.ID, "err", err)
		}
	}
}

// retryOne takes r out of the dead letters and hands it to the handler in one
// transaction; "" when another consumer took it first.
func (c *Consumer[TTx]) retryOne(ctx context.Context, r *retrying) (Outcome, error) {
	tx, end, err := c.store.begin(ctx)
	if err != nil {
		return "", err
	}
	defer func() { _ = end.Rollback(context.WithoutCancel(ctx)) }()
	n, err := sqldb.Exec(ctx, end, c.store.a.sql.Queries["take_retry"], r.id)
	if err != nil || n == 0 {
		return "", err
	}
	// The record is normally there since the event died; after a purge it is not.
	if _, err := sqldb.Exec(ctx, end, c.store.a.sql.Queries["record"], c.cfg.Group, r.msg.ID, r.msg.Topic,
		int64(r.msg.Partition), r.msg.Offset); err != nil {
		return "", err
	}
	if err := c.call(ctx, tx, &r.msg); err != nil {
		return "", &handlerError{err}
	}
	if err := end.Commit(ctx); err != nil {
		if errors.Is(err, outbox.ErrTxDone) {
			return "", &handlerError{errSelfEnded}
		}
		return "", err
	}
	return Handled, nil
}
