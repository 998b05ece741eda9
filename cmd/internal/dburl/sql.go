package dburl

import (
	"context"
	"database/sql"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxstore"
)

// sqlOutbox is the Outbox of a database/sql pool.
func sqlOutbox(db *sql.DB, database outboxstore.Database, cfg *outboxstore.Config, addr string) (*Outbox, error) {
	store, err := outboxstore.New(outboxsql.New(db, database), cfg)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Outbox{
		Admin: store.Admin(), Source: store, Addr: addr, Close: func() { _ = db.Close() },
		Inbox: func(cfg *inbox.Config) (*inbox.Admin, error) {
			in, err := inbox.New(outboxsql.New(db, database), cfg)
			if err != nil {
				return nil, err
			}
			return in.Admin(), nil
		},
		InTx: func(ctx context.Context, fn func(Tx) error) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if err := fn(sqlTx{tx, store}); err != nil {
				_ = tx.Rollback()
				return err
			}
			return tx.Commit()
		},
		QueryRow: func(ctx context.Context, query string, args []any, dest ...any) error {
			return db.QueryRowContext(ctx, query, args...).Scan(dest...)
		},
		Exec: func(ctx context.Context, query string, args ...any) error {
			_, err := db.ExecContext(ctx, query, args...)
			return err
		},
	}, nil
}

type sqlTx struct {
	tx    *sql.Tx
	store *outboxstore.Store[*sql.Tx]
}

func (t sqlTx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, query, args...)
	return err
}

func (t sqlTx) Write(ctx context.Context, msgs ...outbox.Message) error {
	return t.store.Write(ctx, t.tx, msgs...)
}

func (t sqlTx) ExecWrite(context.Context, string, []any, ...outbox.Message) error { return ErrNoBatch }
