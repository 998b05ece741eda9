package sqlite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/relay/source"
)

// ErrHoldLost is the error of a batch that settles after its hold ran out and another
// batch took its buckets: its marks are not written, its events stay pending, and the
// batch that took over sends them (again, if this one already had).
var ErrHoldLost = errors.New("the batch's hold on its buckets ran out and another batch took them: not settled")

// noTimeout stands for a batch without an idle timeout: a hold of a hundred years.
const noTimeout = 100 * 365 * 24 * time.Hour

// Claim holds the buckets no other batch holds (one statement), then reads the batch.
func (d *Dialect) Claim(ctx context.Context, db sqldb.DB, p *source.ClaimParams) (source.Batch, error) {
	buckets := sqldb.Ints(p.Buckets)
	claimable := p.Busy
	if !claimable {
		if err := sqldb.QueryRow(ctx, db, d.Queries()["peek"], []any{buckets, p.HoldDeadKeys}, &claimable); err != nil || !claimable {
			return nil, err
		}
	}
	idle := p.IdleTimeout
	if idle <= 0 {
		idle = noTimeout
	}
	token := newToken()
	held, err := sqldb.QueryInts(ctx, db, d.Queries()["hold"], token, idle.Microseconds(), buckets)
	if err != nil || len(held) == 0 {
		return nil, wrap("hold buckets", err)
	}
	b := &batch{d: d, db: db, token: token, held: sqldb.Ints(held), idle: idle}
	if err := b.read(ctx, p); err != nil || len(b.recs) == 0 {
		b.unhold(ctx)
		return nil, err
	}
	return b, nil
}

func (b *batch) read(ctx context.Context, p *source.ClaimParams) (err error) {
	b.recs, err = sqldb.BucketClaim(ctx, b.db, b.d.Queries(), b.held, p)
	return err
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// batch is a claimed batch: its buckets held under token, its settlement transaction
// begun at the first mark.
type batch struct {
	d     *Dialect
	db    sqldb.DB
	token string
	held  sqldb.Int64s
	idle  time.Duration
	recs  []source.Record
	tx    sqldb.Tx
}

func (b *batch) Records() []source.Record { return b.recs }

func (b *batch) MarkPublished(ctx context.Context, seqs []int64, keep bool) error {
	if err := b.begin(ctx); err != nil {
		return err
	}
	return b.d.Marks.MarkPublished(ctx, b.tx, seqs, keep)
}

func (b *batch) MarkCarried(ctx context.Context, seqs []int64, ids []uuid.UUID, keep bool) error {
	if err := b.begin(ctx); err != nil {
		return err
	}
	return b.d.Marks.MarkCarried(ctx, b.tx, seqs, ids, keep)
}

func (b *batch) MarkFailed(ctx context.Context, p *source.FailParams) (int, error) {
	if err := b.begin(ctx); err != nil {
		return 0, err
	}
	return b.d.Marks.MarkFailed(ctx, b.tx, p)
}

// Keep implements source.Batch: the hold, still the batch's own, is renewed.
func (b *batch) Keep(ctx context.Context) error {
	if b.tx != nil {
		return nil // the settlement renewed it, and its write lock keeps others out
	}
	n, err := sqldb.Exec(ctx, b.db, b.d.Queries()["keep"], b.held, b.token, b.idle.Microseconds())
	if err == nil && n != int64(len(b.held)) {
		err = ErrHoldLost
	}
	return err
}

// begin opens the settlement: its first statement renews the hold, if still the
// batch's own, and takes the write lock.
func (b *batch) begin(ctx context.Context) error {
	if b.tx != nil {
		return nil
	}
	tx, err := b.db.Begin(ctx, sqldb.TxOptions{})
	if err != nil {
		return fmt.Errorf("begin settlement: %w", err)
	}
	n, err := sqldb.Exec(ctx, tx, b.d.Queries()["keep"], b.held, b.token, b.idle.Microseconds())
	if err == nil && n != int64(len(b.held)) {
		err = ErrHoldLost
	}
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	b.tx = tx
	return nil
}

// Commit writes the marks and ends the hold in one transaction.
func (b *batch) Commit(ctx context.Context) error {
	if err := b.begin(ctx); err != nil {
		return err
	}
	if _, err := sqldb.Exec(ctx, b.tx, b.d.Queries()["unhold"], b.held, b.token); err != nil {
		_ = b.tx.Rollback(context.WithoutCancel(ctx))
		return fmt.Errorf("commit batch: %w", err)
	}
	if err := b.tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	return nil
}

// Rollback drops the marks and ends the hold: the batch's events stay as they were.
func (b *batch) Rollback(ctx context.Context) error {
	if b.tx != nil {
		_ = b.tx.Rollback(ctx)
	}
	b.unhold(ctx)
	return nil
}

func (b *batch) unhold(ctx context.Context) {
	_, _ = sqldb.Exec(context.WithoutCancel(ctx), b.db, b.d.Queries()["unhold"], b.held, b.token)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
