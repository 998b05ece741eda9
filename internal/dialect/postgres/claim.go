package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/relay/source"
)

// Claim opens a batch: a transaction that locks the buckets, then reads the batch.
// Nothing is written to the claimed rows. Through pgx the lock goes with the read, in
// one round trip with the BEGIN (sqldb.Deferring); through database/sql each is a
// round trip, and a batch that could lock no bucket reads nothing.
func (d *Dialect) Claim(ctx context.Context, db sqldb.DB, p *source.ClaimParams) (source.Batch, error) {
	buckets := sqldb.Ints(p.Buckets)
	if ok, err := d.Claimable(ctx, db, buckets, p.Busy); err != nil || !ok {
		return nil, err
	}
	tx, err := db.Begin(ctx, sqldb.TxOptions{})
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	recs, err := d.claim(ctx, tx, buckets, p)
	if err != nil || len(recs) == 0 {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	return &sqldb.TxBatch{Tx: tx, Marks: d.Marks, Recs: recs}, nil
}

func (d *Dialect) claim(ctx context.Context, tx sqldb.Tx, buckets sqldb.Int64s, p *source.ClaimParams) ([]source.Record, error) {
	idle := strconv.FormatInt(p.IdleTimeout.Milliseconds(), 10)
	sync := "off"
	if p.Durable {
		sync = "on"
	}
	lock := d.Queries()["lock"]
	if dt, ok := tx.(sqldb.Deferring); ok {
		sql, args := lock.Bind(buckets, idle, sync)
		dt.Defer(sql, args...)
	} else {
		var set [4]string // set_config's results, read and dropped
		var locked string // the buckets locked
		if err := sqldb.QueryRow(ctx, tx, lock, []any{buckets, idle, sync}, &set[0], &set[1], &set[2], &set[3], &locked); err != nil {
			return nil, fmt.Errorf("lock buckets: %w", err)
		}
		if held, err := parseArray(locked); err != nil || len(held) == 0 {
			return nil, err
		}
	}
	sql, args := d.Queries()["claim"].Bind(buckets, p.Limit, p.HoldDeadKeys, sqldb.PerBucket(p.Limit, len(p.Buckets)))
	var appName string // the claim's set_config result, read and dropped
	recs, err := sqldb.ReadRecords(ctx, tx, sql, args, &appName)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return recs, nil
}

// parseArray parses an int[] in PostgreSQL's text form, "{1,2,3}".
func parseArray(s string) (sqldb.Int64s, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make(sqldb.Int64s, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("locked buckets %q: %w", s, err)
		}
		out[i] = v
	}
	return out, nil
}
