package outboxpgx

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// pipeTx is a transaction of the outbox's own (a relay's batch, a migration) on one
// pooled connection. Its BEGIN, and the statements it holds back (Defer), go to the
// server with its next statement or its commit, in one round trip of pgx's pipeline
// mode, where a pgx.Tx takes a round trip for each. A relay's batch (begin, lock the
// buckets, read the batch; delete what was published, commit) so takes two round trips
// instead of five: most of what keeping up with a steady stream costs the relay.
//
// The connection goes back to the pool when the transaction ends. One still in a
// transaction then (an error half-way) is closed by the pool, not reused.
type pipeTx struct {
	c     *pgxpool.Conn
	held  pgx.Batch // not yet sent: the BEGIN until the first statement, then Defer's
	begun bool      // the BEGIN has been sent
}

var (
	_ sqldb.Tx        = (*pipeTx)(nil)
	_ sqldb.Deferring = (*pipeTx)(nil)
)

func beginPipe(ctx context.Context, pool *pgxpool.Pool, opts sqldb.TxOptions) (*pipeTx, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	t := &pipeTx{c: c}
	if opts.ReadCommitted {
		t.held.Queue("begin isolation level read committed")
	} else {
		t.held.Queue("begin")
	}
	return t, nil
}

func (t *pipeTx) Defer(sql string, args ...any) { t.held.Queue(sql, native(args)...) }

func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	if len(args) == 0 || t.held.Len() == 0 {
		// Without arguments, sql may be a script of several statements (a migration),
		// which only pgx's simple protocol runs: it goes alone, after what is held.
		if err := t.flush(ctx); err != nil {
			return 0, err
		}
		tag, err := t.c.Exec(ctx, sql, native(args)...)
		return tag.RowsAffected(), txDone(err)
	}
	tag, err := t.exec(ctx, sql, args)
	return tag.RowsAffected(), err
}

func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (sqldb.Rows, error) {
	if t.c != nil && t.held.Len() == 0 {
		r, err := t.c.Query(ctx, sql, native(args)...)
		if err != nil {
			return nil, txDone(err)
		}
		return &rows{Rows: r}, nil
	}
	br, err := t.send(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	r, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &rows{Rows: batchRows{r, br}}, nil
}

// Commit sends what is held back with the COMMIT. A transaction that has nothing
// but its BEGIN to send commits nothing.
func (t *pipeTx) Commit(ctx context.Context) error {
	if t.c == nil {
		return txDone(pgx.ErrTxClosed)
	}
	defer t.release()
	if !t.begun && t.held.Len() == 1 {
		return nil
	}
	tag, err := t.exec(ctx, "commit", nil)
	if err == nil && tag.String() == "ROLLBACK" { // the transaction had failed
		err = pgx.ErrTxCommitRollback
	}
	return err
}

// Rollback drops what is held back and ends the transaction, if it began.
func (t *pipeTx) Rollback(ctx context.Context) error {
	if t.c == nil {
		return txDone(pgx.ErrTxClosed)
	}
	defer t.release()
	if !t.begun {
		return nil
	}
	_, err := t.c.Exec(ctx, "rollback")
	return err
}

// send sends the statements held back, then sql, in one round trip, and reads the held
// ones' results: sql's are next in the results returned.
func (t *pipeTx) send(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	if t.c == nil {
		return nil, txDone(pgx.ErrTxClosed)
	}
	held := t.held.Len()
	t.held.Queue(sql, native(args)...)
	br := t.c.SendBatch(ctx, t.take())
	for range held {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// exec is send for a statement whose rows, if any, no one reads.
func (t *pipeTx) exec(ctx context.Context, sql string, args []any) (pgconn.CommandTag, error) {
	br, err := t.send(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// flush sends what is held back, if anything, and reads its results.
func (t *pipeTx) flush(ctx context.Context) error {
	if t.c == nil {
		return txDone(pgx.ErrTxClosed)
	}
	if t.held.Len() == 0 {
		return nil
	}
	return t.c.SendBatch(ctx, t.take()).Close()
}

// take hands over what is held back, to be sent now: the BEGIN is then on its way.
func (t *pipeTx) take() *pgx.Batch {
	b := t.held
	t.held, t.begun = pgx.Batch{}, true
	return &b
}

func (t *pipeTx) release() {
	t.c.Release()
	t.c = nil
}

// batchRows are a query's rows read from a pipeline, which ends when they close.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	_ = r.br.Close()
}
