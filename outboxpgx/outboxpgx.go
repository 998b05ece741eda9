// Package outboxpgx runs the outbox store on PostgreSQL through pgx v5: pass New(pool) to
// outboxstore.New, and Write takes the pgx.Tx of your domain change. Arrays and UUIDs
// travel in pgx's binary format, and an idle relay is woken by LISTEN/NOTIFY within
// milliseconds of a commit.
package outboxpgx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/outboxstore"
)

// driver is the outbox's and inbox's way into a pgx pool. Its methods are the stores'
// (sqldb.Driver, sqldb.Notifications, sqldb.Replicator), so the type stays unexported.
type driver struct {
	pool *pgxpool.Pool
}

var (
	_ sqldb.Driver[pgx.Tx] = (*driver)(nil)
	_ sqldb.Notifications  = (*driver)(nil)
	_ sqldb.Replicator     = (*driver)(nil)
)

// New returns the driver for pool, for outboxstore.New and inbox.New. The caller
// keeps the pool and closes it after the stores' last use.
func New(pool *pgxpool.Pool) outboxstore.Driver[pgx.Tx] { return &driver{pool: pool} }

func (d *driver) Database() outboxstore.Database { return outboxstore.PostgreSQL }

func (d *driver) DB() (sqldb.DB, error) {
	if d == nil || d.pool == nil {
		return nil, fmt.Errorf("%w: outboxpgx.New needs a *pgxpool.Pool", outbox.ErrNoDB)
	}
	return poolDB{querier{d.pool}, d.pool}, nil
}

func (d *driver) Tx(tx pgx.Tx) (sqldb.Tx, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: pass the pgx.Tx of the domain change", outbox.ErrNoDB)
	}
	return txDB{querier{tx}, tx}, nil
}

// Begin starts a transaction on the pool.
func (d *driver) Begin(ctx context.Context) (pgx.Tx, error) {
	if d == nil || d.pool == nil {
		return nil, fmt.Errorf("%w: outboxpgx.New needs a *pgxpool.Pool", outbox.ErrNoDB)
	}
	return d.pool.Begin(ctx)
}

// pgxQuerier is what pgx pools, connections and transactions have in common.
type pgxQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// querier adapts pgx to sqldb.Querier: list arguments go as native arrays.
type querier struct{ q pgxQuerier }

func (q querier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.q.Exec(ctx, sql, native(args)...)
	return tag.RowsAffected(), txDone(err)
}

func (q querier) Query(ctx context.Context, sql string, args ...any) (sqldb.Rows, error) {
	r, err := q.q.Query(ctx, sql, native(args)...)
	if err != nil {
		return nil, txDone(err)
	}
	return &rows{Rows: r}, nil
}

// rows scans sqldb.Time destinations as time.Time, pgx's binary timestamptz: through
// sql.Scanner, pgx would plan and convert each row's value anew. A caller that passes
// the same destinations for every row (sqldb.ReadRecords) gets the substitution built
// once.
type rows struct {
	pgx.Rows
	from, to []any // the caller's destinations, and what pgx scans into
	times    []*sqldb.Time
	values   []time.Time
}

func (r *rows) Scan(dest ...any) error {
	if len(dest) == 0 || len(r.from) != len(dest) || &r.from[0] != &dest[0] {
		r.substitute(dest)
	}
	if err := r.Rows.Scan(r.to...); err != nil {
		return err
	}
	for i, t := range r.times {
		*t = sqldb.Time(r.values[i].UTC())
	}
	return nil
}

func (r *rows) substitute(dest []any) {
	r.from, r.to, r.times, r.values = dest, dest, nil, nil
	for _, d := range dest {
		if t, ok := d.(*sqldb.Time); ok {
			r.times = append(r.times, t)
		}
	}
	if len(r.times) == 0 {
		return
	}
	r.to, r.values = append([]any(nil), dest...), make([]time.Time, len(r.times))
	j := 0
	for i, d := range dest {
		if _, ok := d.(*sqldb.Time); ok {
			r.to[i] = &r.values[j]
			j++
		}
	}
}

// native passes list arguments to pgx as []int64, which it sends in binary, where
// database/sql drivers get PostgreSQL's text literal; sqldb.Replan becomes pgx's mode of
// unnamed statements, which PostgreSQL plans at each run.
func native(args []any) []any {
	args, replan := sqldb.WithoutReplan(args)
	copied := false
	for i, a := range args {
		if l, ok := a.(sqldb.Int64s); ok {
			if !copied {
				args, copied = append([]any(nil), args...), true
			}
			args[i] = []int64(l)
		}
	}
	if replan {
		args = append([]any{pgx.QueryExecModeCacheDescribe}, args...)
	}
	return args
}

func txDone(err error) error {
	if errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("%w: %w", outbox.ErrTxDone, err)
	}
	return err
}

type poolDB struct {
	querier
	pool *pgxpool.Pool
}

func (d poolDB) Begin(ctx context.Context, opts sqldb.TxOptions) (sqldb.Tx, error) {
	return beginPipe(ctx, d.pool, opts)
}

func (d poolDB) Conn(ctx context.Context) (sqldb.Conn, error) {
	c, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return conn{querier{c}, c}, nil
}

type txDB struct {
	querier
	tx pgx.Tx
}

func (t txDB) Commit(ctx context.Context) error   { return txDone(t.tx.Commit(ctx)) }
func (t txDB) Rollback(ctx context.Context) error { return txDone(t.tx.Rollback(ctx)) }

type conn struct {
	querier
	c *pgxpool.Conn
}

func (c conn) Close() error { c.c.Release(); return nil }
