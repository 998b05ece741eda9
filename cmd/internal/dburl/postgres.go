package dburl

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
)

func openPostgres(ctx context.Context, rawURL string, cfg *outboxstore.Config, opt Options) (*Outbox, error) {
	pcfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bad database URL: %w", err)
	}
	if opt.MaxConns > 0 {
		pcfg.MaxConns = int32(opt.MaxConns)
	}
	if opt.AppName != "" {
		pcfg.ConnConfig.RuntimeParams["application_name"] = opt.AppName
	}
	addr := fmt.Sprintf("%s:%d", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, unreachable("PostgreSQL", addr, err)
	}
	store, err := outboxstore.New(outboxpgx.New(pool), cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Outbox{
		Admin: store.Admin(), Source: store, Addr: addr, Close: pool.Close,
		Batched: func(ctx context.Context, sql string, args []any, msgs ...outbox.Message) error {
			return batched(ctx, pool, store, sql, args, msgs)
		},
		Inbox: func(cfg *inbox.Config) (*inbox.Admin, error) {
			in, err := inbox.New(outboxpgx.New(pool), cfg)
			if err != nil {
				return nil, err
			}
			return in.Admin(), nil
		},
		InTx: func(ctx context.Context, fn func(Tx) error) error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return fn(pgTx{tx, store}) })
		},
		QueryRow: func(ctx context.Context, sql string, args []any, dest ...any) error {
			return pool.QueryRow(ctx, sql, args...).Scan(dest...)
		},
		Exec: func(ctx context.Context, sql string, args ...any) error {
			_, err := pool.Exec(ctx, sql, args...)
			return err
		},
	}, nil
}

type pgTx struct {
	tx    pgx.Tx
	store *outboxstore.Store[pgx.Tx]
}

func (t pgTx) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := t.tx.Exec(ctx, sql, args...)
	return err
}

func (t pgTx) Write(ctx context.Context, msgs ...outbox.Message) error {
	return t.store.Write(ctx, t.tx, msgs...)
}

func (t pgTx) ExecWrite(ctx context.Context, sql string, args []any, msgs ...outbox.Message) error {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	if err := outboxpgx.Queue(ctx, t.store, b, msgs...); err != nil {
		return err
	}
	return t.tx.SendBatch(ctx, b).Close()
}

// batched is Outbox.Batched over pgx.
func batched(ctx context.Context, pool *pgxpool.Pool, store *outboxstore.Store[pgx.Tx], sql string, args []any, msgs []outbox.Message) error {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(sql, args...)
	if err := outboxpgx.Queue(ctx, store, b, msgs...); err != nil {
		return err
	}
	br := pool.SendBatch(ctx, b)
	tx := br.Tx()
	defer func() { _ = tx.Rollback(ctx) }()
	if err := br.Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
