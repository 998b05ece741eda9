package outboxpgx

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/firstunicorn/outbox/internal/pgstore"
)

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// poolDB adapts pgx to pgstore.DB.
type poolDB struct{ q querier }

func (d poolDB) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := d.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (d poolDB) Query(ctx context.Context, sql string, args ...any) (pgstore.Rows, error) {
	return d.q.Query(ctx, sql, args...)
}

func (d poolDB) InTx(ctx context.Context, fn func(pgstore.DB) error) error {
	return pgx.BeginFunc(ctx, d.q, func(tx pgx.Tx) error { return fn(poolDB{tx}) })
}

func (d poolDB) Begin(ctx context.Context) (pgstore.Tx, error) {
	tx, err := d.q.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return txDB{poolDB{tx}, tx}, nil
}

// txDB is a pgx transaction as a pgstore.Tx.
type txDB struct {
	poolDB
	tx pgx.Tx
}

func (t txDB) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t txDB) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }
