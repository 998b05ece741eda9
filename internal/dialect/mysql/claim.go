package mysql

import (
	"context"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/relay/source"
)

// Claim opens a batch: a READ COMMITTED transaction that locks the rows of the buckets
// no other batch holds, then reads the batch. Nothing is written to the claimed rows.
func (d *Dialect) Claim(ctx context.Context, db sqldb.DB, p *source.ClaimParams) (source.Batch, error) {
	buckets := sqldb.Ints(p.Buckets)
	if ok, err := d.Claimable(ctx, db, buckets, p.Busy); err != nil || !ok {
		return nil, err
	}
	mariadb, err := d.isMariaDB(ctx, db)
	if err != nil {
		return nil, err
	}
	// READ COMMITTED: the claim reads what committed before it, and the batch's deletes
	// take no gap locks that writers' inserts would wait on.
	tx, err := db.Begin(ctx, sqldb.TxOptions{ReadCommitted: true})
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	b := &sqldb.TxBatch{Tx: tx, Marks: d.Marks}
	if p.IdleTimeout > 0 {
		// The server ends the batch, and its locks, when its relay freezes this long.
		v := idleTimeout(mariadb)
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET SESSION %s = %d", v, seconds(p.IdleTimeout))); err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("set %s: %w", v, err)
		}
		// The connection goes back to the pool afterwards, for other transactions.
		b.End = func(ctx context.Context, tx sqldb.Tx) { _, _ = tx.Exec(ctx, "SET SESSION "+v+" = DEFAULT") }
	}
	if b.Recs, err = d.claim(ctx, tx, buckets, p); err != nil || len(b.Recs) == 0 {
		_ = b.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	return b, nil
}

func (d *Dialect) claim(ctx context.Context, tx sqldb.Tx, buckets sqldb.Int64s, p *source.ClaimParams) ([]source.Record, error) {
	locked, err := sqldb.QueryInts(ctx, tx, d.Queries()["lock"], buckets)
	if err != nil || len(locked) == 0 {
		return nil, wrap("lock buckets", err)
	}
	return sqldb.BucketClaim(ctx, tx, d.Queries(), sqldb.Ints(locked), p)
}

// seconds rounds d up to whole seconds, at least one: MySQL's timeouts count seconds.
func seconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
