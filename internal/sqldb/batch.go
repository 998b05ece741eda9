package sqldb

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox/relay/source"
)

// Marks are the statements that settle a batch, the same in every dialect:
//
//	mark_deleted   ($1 seqs)             delete published rows
//	mark_published ($1 seqs)             keep them, status published
//	mark_failed    ($1 seqs, $2 error, $3 max attempts, $4 backoff µs,
//	                $5 max backoff µs, $6 permanent)
//	count_dead     ($1 seqs)             how many of them are dead now
//	mark_carried_deleted, mark_carried_published ($1 seqs, $2 event ids)
//	               as mark_deleted and mark_published, for the rows with both
type Marks struct {
	Deleted, Published, Failed, CountDead, CarriedDeleted, CarriedPublished *Stmt
}

// MarksOf picks the mark statements out of q.
func MarksOf(q Queries) Marks {
	return Marks{Deleted: q["mark_deleted"], Published: q["mark_published"], Failed: q["mark_failed"], CountDead: q["count_dead"],
		CarriedDeleted: q["mark_carried_deleted"], CarriedPublished: q["mark_carried_published"]}
}

// MarkNames are the statements MarksOf needs.
var MarkNames = []string{"mark_deleted", "mark_published", "mark_failed", "count_dead", "mark_carried_deleted", "mark_carried_published"}

// MarkCarried marks published through q the rows that have both one of seqs and one of
// ids.
func (m Marks) MarkCarried(ctx context.Context, q Querier, seqs []int64, ids []uuid.UUID, keep bool) error {
	s := m.CarriedDeleted
	if keep {
		s = m.CarriedPublished
	}
	strs := make(Strings, len(ids))
	for i, id := range ids {
		strs[i] = id.String()
	}
	if _, err := Exec(ctx, q, s, Int64s(seqs), strs); err != nil {
		return fmt.Errorf("mark carried rows published: %w", err)
	}
	return nil
}

// MarkPublished marks seqs published through q.
func (m Marks) MarkPublished(ctx context.Context, q Querier, seqs []int64, keep bool) error {
	s := m.Deleted
	if keep {
		s = m.Published
	}
	if _, err := Exec(ctx, q, s, Int64s(seqs)); err != nil {
		return fmt.Errorf("mark published: %w", err)
	}
	return nil
}

// MarkFailed records a failed attempt through q and returns how many became dead.
func (m Marks) MarkFailed(ctx context.Context, q Querier, p *source.FailParams) (int, error) {
	seqs := Int64s(p.Seqs)
	if _, err := Exec(ctx, q, m.Failed, seqs, p.Error, p.MaxAttempts, p.Backoff.Microseconds(),
		p.MaxBackoff.Microseconds(), p.Permanent); err != nil {
		return 0, fmt.Errorf("mark failed: %w", err)
	}
	if !p.Permanent {
		return 0, nil
	}
	var dead int64
	if err := QueryRow(ctx, q, m.CountDead, []any{seqs}, &dead); err != nil {
		return 0, fmt.Errorf("mark failed: count dead: %w", err)
	}
	return int(dead), nil
}

// TxBatch is a batch that is one database transaction: the claim read its rows in it,
// its marks take effect at Commit, and a crash or Rollback leaves them as they were.
// On a Deferring transaction the marks go with the commit, in its round trip.
type TxBatch struct {
	Tx    Tx
	Marks Marks
	Recs  []source.Record
	// End, if set, runs in the transaction just before it commits or rolls back.
	End func(ctx context.Context, tx Tx)
}

var _ source.Batch = (*TxBatch)(nil)

func (b *TxBatch) Records() []source.Record { return b.Recs }

func (b *TxBatch) MarkPublished(ctx context.Context, seqs []int64, keep bool) error {
	return b.Marks.MarkPublished(ctx, Deferred(b.Tx), seqs, keep)
}

func (b *TxBatch) MarkCarried(ctx context.Context, seqs []int64, ids []uuid.UUID, keep bool) error {
	return b.Marks.MarkCarried(ctx, Deferred(b.Tx), seqs, ids, keep)
}

func (b *TxBatch) MarkFailed(ctx context.Context, p *source.FailParams) (int, error) {
	return b.Marks.MarkFailed(ctx, Deferred(b.Tx), p)
}

// aliveSQL is a statement that succeeds only in a live transaction: a batch's locks
// are the transaction's, held while it lives.
const aliveSQL = "SELECT 1"

// Keep implements source.Batch.
func (b *TxBatch) Keep(ctx context.Context) error {
	rows, err := b.Tx.Query(ctx, aliveSQL)
	if err != nil {
		return fmt.Errorf("batch transaction: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

func (b *TxBatch) Commit(ctx context.Context) error {
	if b.End != nil {
		b.End(ctx, b.Tx)
	}
	if err := b.Tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	return nil
}

func (b *TxBatch) Rollback(ctx context.Context) error {
	if b.End != nil {
		b.End(ctx, b.Tx)
	}
	return b.Tx.Rollback(ctx)
}
