package outboxsql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/firstunicorn/outbox/internal/pgstore"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// sqlDB adapts database/sql to pgstore.DB.
type sqlDB struct{ q querier }

func (d sqlDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d sqlDB) Query(ctx context.Context, query string, args ...any) (pgstore.Rows, error) {
	rows, err := d.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (d sqlDB) InTx(ctx context.Context, fn func(pgstore.DB) error) error {
	tx, err := d.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	return tx.Commit(ctx)
}

func (d sqlDB) Begin(ctx context.Context) (pgstore.Tx, error) {
	db, ok := d.q.(*sql.DB)
	if !ok {
		return nil, fmt.Errorf("nested transaction")
	}
	// The transaction outlives ctx (a claim's context ends before its batch does), so it
	// is begun without it: database/sql rolls back a transaction when its context ends.
	tx, err := db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return nil, err
	}
	return txDB{sqlDB{tx}, tx}, nil
}

// txDB is a *sql.Tx as a pgstore.Tx.
type txDB struct {
	sqlDB
	tx *sql.Tx
}

func (t txDB) Commit(context.Context) error   { return t.tx.Commit() }
func (t txDB) Rollback(context.Context) error { return t.tx.Rollback() }

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
